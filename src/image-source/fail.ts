/** The one error of a source image: `IMAGE_SOURCE`, naming the image (and the part of it) that is wrong. */
import { ElfdepsError } from '../errors.js';

export function imageError(image: string, what: string, cause?: unknown): ElfdepsError {
  return new ElfdepsError('IMAGE_SOURCE', `${image}: ${what}`, { path: image, cause });
}

/** A name from the image, quoted for a one-line message (control characters escaped, bounded). */
export function quoted(name: string): string {
  const shown = name.length > 200 ? `${name.slice(0, 200)}...` : name;
  return JSON.stringify(shown);
}
