import { describe, expect, it } from 'vitest';
import { buildProgram, COMMAND_NAMES, commandOf } from '../../src/cli/program.js';
import { sab } from './helpers.js';

const registered = async (args: string[]): Promise<string[]> => (await buildProgram(args)).commands.map((c) => c.name());

describe('sab command tree (only the named command is loaded)', () => {
  it('finds the command word past top-level options', () => {
    expect(commandOf(['segment', 'a.nii.gz', '-o', 'b.nii.gz'])).toBe('segment');
    expect(commandOf(['--help', 'transfer-labels'])).toBe('transfer-labels');
    expect(commandOf(['help', 'segment'])).toBeUndefined();
    expect(commandOf(['segmnt'])).toBeUndefined();
    expect(commandOf([])).toBeUndefined();
  });

  it('registers the named command alone, every command for help, typos and no command, none for --version', async () => {
    expect(await registered(['segment', 'x.nii.gz', '-o', 'y.nii.gz'])).toEqual(['segment']);
    expect(await registered(['queue', 'status'])).toEqual(['queue']);
    for (const args of [[], ['--help'], ['help', 'segment'], ['segmnt']]) expect(await registered(args)).toEqual([...COMMAND_NAMES]);
    expect(await registered(['--version'])).toEqual([]);
    // Every name in the table is the name its module registers.
    for (const name of COMMAND_NAMES) expect(await registered([name])).toEqual([name]);
  });

  it('still lists every command in help and suggests the nearest one for a typo (built CLI)', async () => {
    const help = await sab(['--help']);
    expect(help.code).toBe(0);
    for (const name of COMMAND_NAMES) expect(help.stdout).toContain(`  ${name} `);
    const typo = await sab(['segmnt', 'x']);
    expect(typo.code).not.toBe(0);
    expect(typo.stderr).toContain('Did you mean segment?');
    const version = await sab(['--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
