// Escaping for the HTML and SVG sinks. Everything that reaches a page from a
// mail (subjects, names, finding text, diffs) or from a scenario file goes
// through esc() (element text) or attr() (attribute values, always quoted with
// "), so no input can open a tag, close an attribute or start a script.

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text for an HTML/SVG element or a double-quoted attribute value. */
export function esc(text: string | number): string {
  // Control characters other than tab and newline are not allowed in XML (SVG); drop them.
  return String(text)
    .replace(/[&<>"']/g, (c) => ENTITIES[c]!)
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '');
}

/** A double-quoted attribute: ` name="value"` (value escaped). */
export function attr(name: string, value: string | number): string {
  return ` ${name}="${esc(value)}"`;
}

/**
 * A URL for an href: only http(s), mailto and same-origin relative URLs pass;
 * anything else (javascript:, data:, ...) becomes "#".
 */
export function safeHref(url: string): string {
  const u = url.trim();
  if (/^(https?:\/\/|mailto:)/i.test(u)) return u;
  if (/^[a-z][a-z0-9+.-]*:/i.test(u)) return '#';
  return u;
}
