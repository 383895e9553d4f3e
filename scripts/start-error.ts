/** The one error `npm start` raises: its message is printed as is, without a stack. */
export class StartError extends Error {
  override name = 'StartError';
}
