/**
 * Rule slots ordered by a numeric key, smallest key at the tail: "every entry with key ≤ x" comes off the
 * end one O(1) pop at a time, so a tick that triggers nothing costs one comparison per list.
 *
 * Inserts are appended and merged in on the next read, so a thousand rules arriving at once (a restart, a
 * first price for a new pair) cost one sort instead of a thousand shifts. Deletes leave a tombstone
 * (slot −1) found by binary search, so removing a rule from a hot pair never shifts its whole array.
 * Keys must not be NaN.
 */

const EMPTY_KEYS = new Float64Array(0);
const EMPTY_SLOTS = new Int32Array(0);
const DEAD = -1;

export class SortedSlots {
  // typed columns instead of objects: 12 bytes per entry, and empty lists share one empty buffer
  private keys = EMPTY_KEYS;
  private slots = EMPTY_SLOTS;
  /** entries in use, tombstones included */
  private len = 0;
  /** [0, sortedLen) is sorted descending; [sortedLen, len) are appended inserts */
  private sortedLen = 0;
  private dead = 0;

  get size(): number {
    return this.len - this.dead;
  }

  push(key: number, slot: number): void {
    if (this.len === this.keys.length) this.resize(Math.max(4, this.len * 2));
    this.keys[this.len] = key;
    this.slots[this.len] = slot;
    this.len++;
  }

  /** The smallest live key; NaN when empty, so `x >= minKey()` is simply false. */
  minKey(): number {
    if (this.sortedLen !== this.len) this.settle();
    while (this.len > 0 && this.slots[this.len - 1] === DEAD) {
      this.len--;
      this.dead--;
    }
    this.sortedLen = this.len;
    return this.len === 0 ? NaN : this.keys[this.len - 1]!;
  }

  /** Removes and returns the slot of the smallest key; only valid right after minKey() returned a number. */
  popMin(): number {
    this.len--;
    this.sortedLen = this.len;
    return this.slots[this.len]!;
  }

  /** False when (key, slot) is not here, e.g. because it was just popped. */
  delete(key: number, slot: number): boolean {
    // a delete that misses scans the appended region: keep it short when many rules move in one tick
    if (this.len - this.sortedLen > 32) this.settle();
    const keys = this.keys;
    let lo = 0;
    let hi = this.sortedLen;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid]! > key) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.sortedLen && keys[i] === key; i++) if (this.bury(i, slot)) return true;
    for (let i = this.sortedLen; i < this.len; i++) if (keys[i] === key && this.bury(i, slot)) return true;
    return false;
  }

  /** Moves every live entry into `target` (used when a window sub-list joins its group's main list). */
  moveAllTo(target: SortedSlots): void {
    for (let i = 0; i < this.len; i++) {
      const slot = this.slots[i]!;
      if (slot !== DEAD) target.push(this.keys[i]!, slot);
    }
    this.len = this.sortedLen = this.dead = 0;
  }

  private bury(i: number, slot: number): boolean {
    if (this.slots[i] !== slot) return false;
    this.slots[i] = DEAD;
    this.dead++;
    // without inserts nothing else would ever reclaim a list that only shrinks
    if (this.dead > 16 && this.dead * 2 > this.len) this.compact();
    return true;
  }

  private settle(): void {
    if (this.dead * 2 > this.len) this.compact();
    const start = this.sortedLen;
    const count = this.len - start;
    if (count === 0) return;
    const keys = this.keys;
    const slots = this.slots;
    const order = Array.from({ length: count }, (_, k) => start + k);
    order.sort((a, b) => (keys[a]! > keys[b]! ? -1 : keys[a]! < keys[b]! ? 1 : 0));
    const tk = Float64Array.from(order, (i) => keys[i]!);
    const ts = Int32Array.from(order, (i) => slots[i]!);
    // merge from the back: the smallest of the two tails goes last, so nothing is overwritten before it is read
    let i = start - 1;
    let j = count - 1;
    for (let w = this.len - 1; j >= 0; w--) {
      if (i >= 0 && keys[i]! < tk[j]!) {
        keys[w] = keys[i]!;
        slots[w] = slots[i--]!;
      } else {
        keys[w] = tk[j]!;
        slots[w] = ts[j--]!;
      }
    }
    this.sortedLen = this.len;
  }

  private compact(): void {
    let w = 0;
    let sortedKept = 0;
    for (let i = 0; i < this.len; i++) {
      if (this.slots[i] === DEAD) continue;
      if (i < this.sortedLen) sortedKept++;
      this.keys[w] = this.keys[i]!;
      this.slots[w++] = this.slots[i]!;
    }
    this.len = w;
    this.sortedLen = sortedKept;
    this.dead = 0;
    if (this.keys.length > 64 && w * 4 < this.keys.length) this.resize(w * 2);
  }

  private resize(capacity: number): void {
    const keys = new Float64Array(capacity);
    const slots = new Int32Array(capacity);
    keys.set(this.keys.subarray(0, this.len));
    slots.set(this.slots.subarray(0, this.len));
    this.keys = keys;
    this.slots = slots;
  }
}
