import { MAX_OLE2_DIRECTORY_ENTRIES } from "../../limits.ts";
import { hasBytes, u16le, u32le } from "./bytes.ts";

/** What an OLE2 compound file (legacy Office document, MSI installer) holds, from its directory. */
export interface Ole2Info {
  /** Names of the storages and streams, lower case. */
  names: string[];
  /** A VBA project or Word macro storage is present; the name that showed it. */
  macros: string | null;
  /** The root's class id marks a Windows Installer package, patch or transform. */
  installer: boolean;
  /** An encrypted Office Open XML document (password-protected .docx/.xlsx are OLE2 wrappers). */
  encrypted: boolean;
  /** The directory could not be read in full (damaged, looping, or over MAX_OLE2_DIRECTORY_ENTRIES). */
  truncated: boolean;
  scanned: number;
}

/** Storage and stream names that carry VBA: `Macros` (Word), `_VBA_PROJECT_CUR` (Excel), `VBA` and `_VBA_PROJECT` (all). */
const MACRO_NAMES = new Set(["macros", "_vba_project_cur", "_vba_project", "vba"]);
/** Root CLSIDs of MSI (000C1084), MSP (000C1086) and MST (000C1082) files, as stored (little-endian GUID). */
const INSTALLER_CLSIDS = [0x84, 0x86, 0x82].map((b) => [b, 0x10, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46]);
const SIGNATURE = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1];
const HEADER_DIFAT = 109;
/** Sector ids at or above this are markers (end of chain, free, FAT, DIFAT), not sectors. */
const MAX_REGULAR_SECTOR = 0xfffffffa;

/**
 * Reads an OLE2 directory by following its sector chain through the FAT, touching only the
 * header, the FAT sectors on the way and the directory itself — never the streams. So the work
 * depends on the number of entries (bounded by MAX_OLE2_DIRECTORY_ENTRIES), not the file's size.
 */
export function readOle2(bytes: Uint8Array, maxEntries = MAX_OLE2_DIRECTORY_ENTRIES): Ole2Info | null {
  if (!hasBytes(bytes, 0, SIGNATURE) || bytes.length < 512) return null;
  const shift = u16le(bytes, 0x1e);
  if (shift !== 9 && shift !== 12) return null;
  const sectorSize = 1 << shift;
  const perSector = sectorSize / 4;
  let scanned = 512;
  const offset = (sector: number) => (sector + 1) * sectorSize;

  const difat = (index: number): number => {
    if (index < HEADER_DIFAT) return u32le(bytes, 0x4c + index * 4);
    let sector = u32le(bytes, 0x44);
    let rest = index - HEADER_DIFAT;
    for (let hops = 0; rest >= perSector - 1; hops++) {
      if (sector >= MAX_REGULAR_SECTOR || hops > u32le(bytes, 0x48)) return 0xffffffff;
      sector = u32le(bytes, offset(sector) + (perSector - 1) * 4);
      rest -= perSector - 1;
      scanned += 4;
    }
    scanned += 4;
    return sector >= MAX_REGULAR_SECTOR ? 0xffffffff : u32le(bytes, offset(sector) + rest * 4);
  };
  const nextSector = (sector: number): number => {
    const fatSector = difat(Math.floor(sector / perSector));
    if (fatSector >= MAX_REGULAR_SECTOR) return 0xfffffffe;
    scanned += 4;
    return u32le(bytes, offset(fatSector) + (sector % perSector) * 4);
  };

  const names: string[] = [];
  let installer = false;
  let truncated = false;
  const seen = new Set<number>();
  let sector = u32le(bytes, 0x30);
  while (sector < MAX_REGULAR_SECTOR) {
    if (seen.has(sector) || names.length >= maxEntries || offset(sector) + sectorSize > bytes.length) {
      truncated = true;
      break;
    }
    seen.add(sector);
    const start = offset(sector);
    scanned += sectorSize;
    for (let entry = start; entry < start + sectorSize; entry += 128) {
      const type = bytes[entry + 0x42];
      if (type === 0) continue;
      let name = "";
      for (let i = 0; i < 64; i += 2) {
        const code = u16le(bytes, entry + i);
        if (code === 0) break;
        name += String.fromCharCode(code);
      }
      if (type === 5 && INSTALLER_CLSIDS.some((id) => hasBytes(bytes, entry + 0x50, id))) installer = true;
      names.push(name.toLowerCase());
    }
    sector = nextSector(sector);
  }
  const macros = names.find((n) => MACRO_NAMES.has(n)) ?? null;
  return { names, macros, installer, encrypted: names.includes("encryptedpackage"), truncated, scanned };
}
