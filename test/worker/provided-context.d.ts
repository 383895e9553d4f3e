/** Values the worker tests' global setup hands to the tests. */
declare module 'vitest' {
  export interface ProvidedContext {
    fakeNodeUrl: string;
  }
}
export {};
