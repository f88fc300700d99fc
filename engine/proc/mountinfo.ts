// /proc/PID/mountinfo (proc(5)): one mount a line; paths escape space, tab, newline and \ as \ooo.
import { int, parseError, readProcText } from './io.ts';

export interface MountInfo {
  readonly mntId: number;
  readonly parentId: number;
  readonly devMajor: number;
  readonly devMinor: number;
  readonly root: string;
  readonly mountPoint: string;
  readonly options: string;
  /** Tagged fields such as `shared:1`, `master:2`. */
  readonly optional: readonly string[];
  readonly fsType: string;
  readonly source: string;
  readonly superOptions: string;
}

const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function parseMountinfo(text: string): MountInfo[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((line): MountInfo => {
      const w = line.split(' ');
      const sep = w.indexOf('-', 6);
      const dev = /^(\d+):(\d+)$/.exec(w[2] ?? '');
      if (sep < 0 || w.length < sep + 4 || dev === null) throw parseError('mountinfo', 'bad line', line);
      return {
        mntId: int('mountinfo', w[0]),
        parentId: int('mountinfo', w[1]),
        devMajor: int('mountinfo', dev[1]),
        devMinor: int('mountinfo', dev[2]),
        root: unescape(w[3]!),
        mountPoint: unescape(w[4]!),
        options: w[5]!,
        optional: w.slice(6, sep),
        fsType: unescape(w[sep + 1]!),
        source: unescape(w[sep + 2]!),
        superOptions: w[sep + 3]!,
      };
    });
}

export function readMountinfo(pid: number): MountInfo[] {
  return parseMountinfo(readProcText(`/proc/${pid}/mountinfo`));
}
