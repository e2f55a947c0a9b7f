/** A queue problem the user can act on (Redis unreachable, wrong password, bad job, ...); its message never holds a password. */
export class QueueError extends Error {
  override name = 'QueueError';
}
