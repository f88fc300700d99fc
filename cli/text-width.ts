// How many terminal columns a string takes, for yargs' help layout (cliui, wrap-ansi). The CLI
// bundle puts this in place of string-width, which builds Unicode-property regexes (RGI_Emoji,
// Default_Ignorable_Code_Point …) as it loads: ~10 ms of every cryo command, though only --help
// and usage errors lay out text. cryo's help is ASCII; for other text this counts code points,
// 0 for controls, combining marks and format characters, 2 for East Asian wide and fullwidth
// ranges and emoji — not grapheme-exact, which help layout doesn't need.
const ANSI = /\u001B\[[0-?]*[ -/]*[@-~]|\u001B\][^\u0007\u001B]*(?:\u0007|\u001B\\)/g;
let zeroWidth: RegExp | undefined;

const WIDE: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f], [0x2e80, 0x303e], [0x3041, 0x33ff], [0x3400, 0x4dbf], [0x4e00, 0x9fff],
  [0xa000, 0xa4cf], [0xac00, 0xd7a3], [0xf900, 0xfaff], [0xfe30, 0xfe4f], [0xff00, 0xff60],
  [0xffe0, 0xffe6], [0x1f300, 0x1f64f], [0x1f900, 0x1f9ff], [0x20000, 0x3fffd],
];

export default function textWidth(text: string, options: { countAnsiEscapeCodes?: boolean } = {}): number {
  const s = options.countAnsiEscapeCodes ? text : text.replace(ANSI, '');
  // eslint-disable-next-line no-control-regex
  if (/^[\x20-\x7e]*$/.test(s)) return s.length;
  zeroWidth ??= /^[\p{Cc}\p{Cf}\p{Mn}\p{Me}]$/u;
  let width = 0;
  for (const ch of s) {
    if (zeroWidth.test(ch)) continue;
    const cp = ch.codePointAt(0)!;
    width += WIDE.some(([lo, hi]) => cp >= lo && cp <= hi) ? 2 : 1;
  }
  return width;
}
