// string-width (yargs lays out its help with it) builds an Intl.Segmenter as it loads: ~12 ms
// each, for three copies, on every cryo command, though only --help and usage errors lay out
// text. The CLI bundle puts this class in place of Intl.Segmenter (esbuild define + inject):
// the real one is built on first use.
type Segmenter = InstanceType<typeof Intl.Segmenter>;

export class LazySegmenter {
  readonly #args: ConstructorParameters<typeof Intl.Segmenter>;
  #real: Segmenter | undefined;

  constructor(...args: ConstructorParameters<typeof Intl.Segmenter>) {
    this.#args = args;
  }

  #get(): Segmenter {
    // globalThis.Intl, so that the bundle's define does not turn this into LazySegmenter itself.
    return (this.#real ??= new globalThis.Intl.Segmenter(...this.#args));
  }

  segment(input: string): ReturnType<Segmenter['segment']> {
    return this.#get().segment(input);
  }

  resolvedOptions(): ReturnType<Segmenter['resolvedOptions']> {
    return this.#get().resolvedOptions();
  }
}
