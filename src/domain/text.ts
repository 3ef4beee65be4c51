/** Rules for free text that users name things with. */

/**
 * Control characters: C0 except tab, line feed and carriage return, DEL, and C1. Alibaba refuses them in
 * names, descriptions and tags; XML 1.0 cannot carry most of them at all.
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

export function hasControlCharacter(s: string): boolean {
  return CONTROL.test(s);
}

/**
 * Names of instances and disks, as Alibaba checks them: 2–128 characters, starting with a letter (Latin or CJK),
 * not a URL, and no control characters.
 */
export function isResourceName(name: string): boolean {
  return name.length >= 2 && name.length <= 128 && /^[A-Za-z\u4e00-\u9fa5]/.test(name) && !/^https?:\/\//i.test(name) && !hasControlCharacter(name);
}
