import type { VoxelPrompt } from '../../src/pipeline/prompts.js';

/** One change to one slice: its mask and prompts before and after, so undo/redo just swap them back. */
export interface SliceEdit {
  slice: number;
  before: { mask: Uint8Array; prompts: VoxelPrompt[] };
  after: { mask: Uint8Array; prompts: VoxelPrompt[] };
}

/** Linear undo/redo: a new edit drops the redo branch. */
export class EditHistory {
  private readonly done: SliceEdit[] = [];
  private readonly undone: SliceEdit[] = [];

  constructor(private readonly limit = 200) {}

  push(edit: SliceEdit): void {
    this.done.push(edit);
    if (this.done.length > this.limit) this.done.shift();
    this.undone.length = 0;
  }

  /** The edit to revert (apply its `before`), or undefined. */
  undo(): SliceEdit | undefined {
    const e = this.done.pop();
    if (e) this.undone.push(e);
    return e;
  }

  /** The edit to re-apply (apply its `after`), or undefined. */
  redo(): SliceEdit | undefined {
    const e = this.undone.pop();
    if (e) this.done.push(e);
    return e;
  }

  get canUndo(): boolean {
    return this.done.length > 0;
  }
  get canRedo(): boolean {
    return this.undone.length > 0;
  }

  clear(): void {
    this.done.length = 0;
    this.undone.length = 0;
  }
}
