/** Why `gpu-node start` will not start (a port it needs is taken): the CLI prints it and exits 1. */
export class StartError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StartError';
  }
}
