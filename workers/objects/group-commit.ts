/**
 * Group commit for an object's hot state. The request path changes state in memory —
 * authoritative, since one object owns it — and waits for the write that takes the change: one
 * write per batch of calls, made a macrotask after the first, so the calls that arrived meanwhile
 * (many, under load) share it and its commit. A caller answers only after that write, and the
 * runtime's output gate holds the answer until it is committed: nothing is answered before it is
 * durable, exactly as with a write per call.
 */
export class GroupCommit<Name extends string> {
  private readonly write: (name: Name) => void;
  private readonly changed = new Set<Name>();
  private next: Promise<void> | null = null;

  /** `write` saves the state called `name`, synchronously, in the batch's turn. */
  constructor(write: (name: Name) => void) {
    this.write = write;
  }

  /** `name` changed in memory; resolves once a write has taken it. */
  persist(name: Name): Promise<void> {
    this.changed.add(name);
    this.next ??= new Promise((resolve) =>
      setTimeout(() => {
        this.next = null;
        for (const changed of this.changed) this.write(changed);
        this.changed.clear();
        resolve();
      }, 0),
    );
    return this.next;
  }
}
