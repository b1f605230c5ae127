// A small PNG reader for tests (8-bit truecolour, with or without alpha, not interlaced: what resvg writes), written
// from the PNG specification (W3C, 2nd ed.): signature, IHDR, the zlib stream of the IDAT chunks, the five row
// filters. It checks the bytes independently of the renderer that wrote them.
import { inflateSync } from "node:zlib";

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export interface DecodedPng {
  width: number;
  height: number;
  /** Bytes per pixel (3 RGB, 4 RGBA). */
  bpp: number;
  pixels: Buffer;
}

/** The IHDR width and height, read straight from the header bytes. */
export function pngSize(png: Buffer): { width: number; height: number } {
  if (!png.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error("not a PNG (signature)");
  if (png.toString("latin1", 12, 16) !== "IHDR") throw new Error("IHDR is not the first chunk");
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

/** Decodes a PNG to raw pixels. */
export function decodePng(png: Buffer): DecodedPng {
  const { width, height } = pngSize(png);
  const depth = png[24];
  const colour = png[25];
  if (depth !== 8 || (colour !== 2 && colour !== 6) || png[28] !== 0) throw new Error("unsupported PNG format");
  const bpp = colour === 6 ? 4 : 3;
  const idat: Buffer[] = [];
  for (let at = 8; at < png.length; ) {
    const len = png.readUInt32BE(at);
    const type = png.toString("latin1", at + 4, at + 8);
    if (type === "IDAT") idat.push(png.subarray(at + 8, at + 8 + len));
    if (type === "IEND") break;
    at += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  const out = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? out[y * stride + x - bpp]! : 0;
      const b = y > 0 ? out[(y - 1) * stride + x]! : 0;
      const c = x >= bpp && y > 0 ? out[(y - 1) * stride + x - bpp]! : 0;
      let v = src[x]!;
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (filter !== 0) throw new Error(`bad filter ${filter} on row ${y}`);
      out[y * stride + x] = v & 0xff;
    }
  }
  return { width, height, bpp, pixels: out };
}

/** Luminance statistics of an image: how many pixels differ from the corner's colour, and the variance. */
export function inkStats(img: DecodedPng): { inked: number; share: number; variance: number; colours: number } {
  const n = img.width * img.height;
  const lum = (i: number) => {
    const p = i * img.bpp;
    return 0.2126 * img.pixels[p]! + 0.7152 * img.pixels[p + 1]! + 0.0722 * img.pixels[p + 2]!;
  };
  const bg = lum(0);
  let inked = 0;
  let sum = 0;
  let sq = 0;
  const colours = new Set<number>();
  for (let i = 0; i < n; i++) {
    const l = lum(i);
    if (Math.abs(l - bg) > 8) inked++;
    sum += l;
    sq += l * l;
    const p = i * img.bpp;
    if (colours.size < 4096) colours.add((img.pixels[p]! << 16) | (img.pixels[p + 1]! << 8) | img.pixels[p + 2]!);
  }
  const mean = sum / n;
  return { inked, share: inked / n, variance: sq / n - mean * mean, colours: colours.size };
}
