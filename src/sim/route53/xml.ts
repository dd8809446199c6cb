/**
 * A small, strict XML reader for the simple documents Route 53 receives (elements, text,
 * attributes that are ignored, comments, CDATA, the five named entities and numeric
 * character references), and a few writer helpers. It never expands user-defined entities:
 * a DOCTYPE is refused, so there is no entity-expansion bomb, and the reader is iterative
 * (an explicit stack, a depth cap and an element cap), so no document can exhaust the stack.
 */
import { escapeXml } from '../server.js';

export interface XmlElement {
  /** Local name (any namespace prefix removed). */
  name: string;
  children: XmlElement[];
  /** Concatenated character data directly inside this element. */
  text: string;
}

export class XmlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XmlError';
  }
}

export interface XmlLimits {
  maxDepth: number;
  maxElements: number;
}

const DEFAULT_LIMITS: XmlLimits = { maxDepth: 32, maxElements: 200_000 };
const NAME_RE = /[A-Za-z_:][A-Za-z0-9_.:-]*/y;
const ATTR_RE = /\s+([A-Za-z_:][A-Za-z0-9_.:-]*)\s*=\s*("[^"<]*"|'[^'<]*')/y;

function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/** Decode character data: entities and character references; rejects bad ones and control characters. */
export function decodeText(raw: string): string {
  checkChars(raw);
  if (!raw.includes('&')) return raw;
  let out = '';
  let i = 0;
  for (;;) {
    const amp = raw.indexOf('&', i);
    if (amp < 0) return out + raw.slice(i);
    out += raw.slice(i, amp);
    const semi = raw.indexOf(';', amp);
    if (semi < 0 || semi - amp > 12) throw new XmlError('The entity name must immediately follow the \'&\' in the entity reference.');
    const ent = raw.slice(amp + 1, semi);
    switch (ent) {
      case 'lt':
        out += '<';
        break;
      case 'gt':
        out += '>';
        break;
      case 'amp':
        out += '&';
        break;
      case 'quot':
        out += '"';
        break;
      case 'apos':
        out += "'";
        break;
      default: {
        let cp: number;
        if (/^#[0-9]+$/.test(ent)) cp = Number.parseInt(ent.slice(1), 10);
        else if (/^#x[0-9A-Fa-f]+$/.test(ent)) cp = Number.parseInt(ent.slice(2), 16);
        else throw new XmlError(`The entity "${ent}" was referenced, but not declared.`);
        if (!isXmlChar(cp)) throw new XmlError(`Character reference "&${ent};" is an invalid XML character.`);
        out += String.fromCodePoint(cp);
      }
    }
    i = semi + 1;
  }
}

function checkChars(raw: string): void {
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if ((c < 0x20 && c !== 0x9 && c !== 0xa && c !== 0xd) || c === 0xfffe || c === 0xffff) {
      throw new XmlError(`An invalid XML character (Unicode: 0x${c.toString(16)}) was found in the element content of the document.`);
    }
  }
}

function localName(qname: string): string {
  const colon = qname.lastIndexOf(':');
  return colon >= 0 ? qname.slice(colon + 1) : qname;
}

/** Parse a document into its root element. Throws XmlError on anything that is not well-formed or is refused. */
export function parseXml(src: string, limits: XmlLimits = DEFAULT_LIMITS): XmlElement {
  let i = 0;
  const n = src.length;
  if (src.charCodeAt(0) === 0xfeff) i = 1;
  // Optional XML declaration, only at the very start.
  if (src.startsWith('<?xml', i) && /\s/.test(src.charAt(i + 5))) {
    const end = src.indexOf('?>', i);
    if (end < 0) throw new XmlError('XML document structures must start and end within the same entity.');
    i = end + 2;
  }
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let elements = 0;
  const textParts = new Map<XmlElement, string[]>();

  while (i < n) {
    const lt = src.indexOf('<', i);
    const textEnd = lt < 0 ? n : lt;
    if (textEnd > i) {
      const raw = src.slice(i, textEnd);
      const top = stack[stack.length - 1];
      if (!top) {
        if (raw.trim() !== '') throw new XmlError(root ? 'Content is not allowed in trailing section.' : 'Content is not allowed in prolog.');
      } else {
        let parts = textParts.get(top);
        if (!parts) textParts.set(top, (parts = []));
        parts.push(decodeText(raw));
      }
      i = textEnd;
      continue;
    }
    // src[i] === '<'
    if (src.startsWith('<!--', i)) {
      const end = src.indexOf('-->', i + 4);
      if (end < 0) throw new XmlError('XML document structures must start and end within the same entity.');
      i = end + 3;
      continue;
    }
    if (src.startsWith('<![CDATA[', i)) {
      const top = stack[stack.length - 1];
      if (!top) throw new XmlError('Content is not allowed in prolog.');
      const end = src.indexOf(']]>', i + 9);
      if (end < 0) throw new XmlError('The CDATA section must end with "]]>".');
      let parts = textParts.get(top);
      if (!parts) textParts.set(top, (parts = []));
      const data = src.slice(i + 9, end);
      checkChars(data);
      parts.push(data);
      i = end + 3;
      continue;
    }
    if (src.startsWith('<!', i)) {
      if (src.startsWith('<!DOCTYPE', i)) throw new XmlError('DOCTYPE is disallowed.');
      throw new XmlError('The markup in the document following the root element must be well-formed.');
    }
    if (src.startsWith('<?', i)) throw new XmlError('Processing instructions are not allowed.');
    if (src.startsWith('</', i)) {
      NAME_RE.lastIndex = i + 2;
      const m = NAME_RE.exec(src);
      if (!m) throw new XmlError('The end-tag must be well-formed.');
      let j = i + 2 + m[0].length;
      while (j < n && /\s/.test(src.charAt(j))) j++;
      if (src.charAt(j) !== '>') throw new XmlError(`The end-tag for element type "${m[0]}" must end with a '>' delimiter.`);
      const top = stack.pop();
      if (!top || top.name !== localName(m[0])) throw new XmlError(`The element type "${top?.name ?? ''}" must be terminated by the matching end-tag "</${top?.name ?? ''}>".`);
      finish(top, textParts);
      i = j + 1;
      continue;
    }
    // Start tag.
    NAME_RE.lastIndex = i + 1;
    const m = NAME_RE.exec(src);
    if (!m) throw new XmlError('The markup in the document must be well-formed.');
    let j = i + 1 + m[0].length;
    for (;;) {
      ATTR_RE.lastIndex = j;
      const a = ATTR_RE.exec(src);
      if (!a) break;
      decodeText(a[2]!.slice(1, -1));
      j += a[0].length;
    }
    while (j < n && /\s/.test(src.charAt(j))) j++;
    let selfClosing = false;
    if (src.startsWith('/>', j)) {
      selfClosing = true;
      j += 2;
    } else if (src.charAt(j) === '>') {
      j += 1;
    } else {
      throw new XmlError(`Element type "${m[0]}" must be followed by either attribute specifications, ">" or "/>".`);
    }
    if (++elements > limits.maxElements) throw new XmlError(`The document has more than ${limits.maxElements} elements.`);
    const el: XmlElement = { name: localName(m[0]), children: [], text: '' };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(el);
    else if (root) throw new XmlError('The markup in the document following the root element must be well-formed.');
    else root = el;
    if (!selfClosing) {
      if (stack.length >= limits.maxDepth) throw new XmlError(`The document nests elements deeper than ${limits.maxDepth} levels.`);
      stack.push(el);
    }
    i = j;
  }
  if (stack.length > 0) throw new XmlError(`XML document structures must start and end within the same entity.`);
  if (!root) throw new XmlError('Premature end of file.');
  return root;
}

function finish(el: XmlElement, textParts: Map<XmlElement, string[]>): void {
  const parts = textParts.get(el);
  if (parts) {
    el.text = parts.join('');
    textParts.delete(el);
  }
}

/** The first child with this name. */
export function child(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}

/** All children with this name. */
export function childrenNamed(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name);
}

/** Text of the first child with this name. */
export function childText(el: XmlElement, name: string): string | undefined {
  return child(el, name)?.text;
}

/** `<name>escaped text</name>`, or '' when the value is undefined. */
export function tag(name: string, value: string | number | boolean | undefined): string {
  if (value === undefined) return '';
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** `<name>inner</name>` for already-rendered XML. */
export function wrap(name: string, inner: string): string {
  return `<${name}>${inner}</${name}>`;
}
