// The few browser types that code run inside a page needs (the callbacks of
// page.evaluate and friends, which playwright serialises into the page). The
// program is compiled without the DOM library, so production code cannot use
// `document` or `window` by accident; a file with in-page callbacks declares
// the globals it uses with these types, in its own module scope:
//   declare const document: PageDocument;
// Types only: nothing here exists at run time in Node.

export interface PageRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface PageElement {
  id: string;
  className: string;
  textContent: string | null;
  attributes: Iterable<{ name: string }>;
  classList: { contains(name: string): boolean };
  getAttribute(name: string): string | null;
  closest(selector: string): PageElement | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement>;
  getBoundingClientRect(): PageRect & { toJSON(): PageRect };
}

export interface PageHTMLElement extends PageElement {
  dataset: Record<string, string>;
}

export interface PageDetails extends PageElement {
  open: boolean;
}

export interface PageAnchor extends PageElement {
  href: string;
}

export interface PageImage extends PageElement {
  alt: string;
  complete: boolean;
  naturalWidth: number;
  naturalHeight: number;
}

export interface PageDocument {
  scripts: { length: number };
  images: Iterable<PageImage> & { length: number };
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement>;
}

export interface PageStyle {
  fill: string;
  stroke: string;
  fontWeight: string;
}

/** The page's `performance`, for its navigation timing. */
export interface PagePerformance {
  getEntriesByType(type: 'navigation'): { startTime: number; loadEventEnd: number }[];
}
