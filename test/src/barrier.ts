// One-shot in-process barrier: wait() resolves for everyone once `parties`
// callers have arrived. Tests use it to make sure every owner holds its first
// lock before any of them asks for its second, so a deadlock really forms.
export class Barrier {
  private arrived = 0;
  private release!: () => void;
  private readonly opened: Promise<void>;

  constructor(private readonly parties: number) {
    this.opened = new Promise((resolve) => (this.release = resolve));
  }

  wait(): Promise<void> {
    this.arrived++;
    if (this.arrived === this.parties) this.release();
    return this.opened;
  }
}
