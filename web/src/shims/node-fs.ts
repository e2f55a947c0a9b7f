/**
 * node:fs in the browser bundle: the shared readers/writers import it for their path-based entry
 * points, which the viewer never calls (it uses decodeNifti/decodeNrrd/encodeNifti on bytes).
 */
function unavailable(name: string): never {
  throw new Error(`node:fs ${name} is not available in the browser`);
}
export const constants = { W_OK: 2, R_OK: 4, F_OK: 0 };
export const readFileSync = (): never => unavailable('readFileSync');
export const readdirSync = (): never => unavailable('readdirSync');
export const accessSync = (): never => unavailable('accessSync');
export const closeSync = (): never => unavailable('closeSync');
export const fsyncSync = (): never => unavailable('fsyncSync');
export const openSync = (): never => unavailable('openSync');
export const realpathSync = (): never => unavailable('realpathSync');
export const renameSync = (): never => unavailable('renameSync');
export const rmSync = (): never => unavailable('rmSync');
export const statSync = (): never => unavailable('statSync');
export const writeSync = (): never => unavailable('writeSync');
export const existsSync = (): boolean => false;
export default { constants, readFileSync, readdirSync, accessSync, closeSync, fsyncSync, openSync, realpathSync, renameSync, rmSync, statSync, writeSync, existsSync };
