/** A pixel buffer with the few drawing operations a line chart needs. */
import { GLYPH_HEIGHT, GLYPH_WIDTH, glyph } from './bitmap-font.ts';
import { encodePng } from './png.ts';

export type Color = readonly [number, number, number];

export class Canvas {
  readonly width: number;
  readonly height: number;
  private readonly pixels: Uint8Array;

  constructor(width: number, height: number, background: Color) {
    this.width = width;
    this.height = height;
    this.pixels = new Uint8Array(width * height * 3);
    this.fillRect(0, 0, width, height, background);
  }

  fillRect(x: number, y: number, w: number, h: number, color: Color): void {
    for (let row = Math.max(0, Math.round(y)); row < Math.min(this.height, Math.round(y + h)); row++) {
      for (let col = Math.max(0, Math.round(x)); col < Math.min(this.width, Math.round(x + w)); col++) {
        this.pixels.set(color, (row * this.width + col) * 3);
      }
    }
  }

  /** A straight line `thickness` pixels wide (a square brush stepped along it). */
  line(x0: number, y0: number, x1: number, y1: number, color: Color, thickness = 1): void {
    const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    const half = (thickness - 1) / 2;
    for (let i = 0; i <= steps; i++) {
      const x = x0 + ((x1 - x0) * i) / steps;
      const y = y0 + ((y1 - y0) * i) / steps;
      this.fillRect(x - half, y - half, thickness, thickness, color);
    }
  }

  /** Text in the 5×7 font at `scale`; `align` says which end of the text sits at `x`. */
  text(
    x: number,
    y: number,
    content: string,
    color: Color,
    scale = 2,
    align: 'left' | 'right' | 'center' = 'left',
  ): void {
    const width = this.textWidth(content, scale);
    let left = align === 'left' ? x : align === 'right' ? x - width : x - width / 2;
    for (const character of content) {
      glyph(character).forEach((row, dy) =>
        row.forEach((ink, dx) => {
          if (ink) this.fillRect(left + dx * scale, y + dy * scale, scale, scale, color);
        }),
      );
      left += (GLYPH_WIDTH + 1) * scale;
    }
  }

  textWidth(content: string, scale = 2): number {
    return [...content].length * (GLYPH_WIDTH + 1) * scale - scale;
  }

  static textHeight(scale = 2): number {
    return GLYPH_HEIGHT * scale;
  }

  png(): Buffer {
    return encodePng(this.width, this.height, this.pixels);
  }
}
