/**
 * Just enough XML for S3 request bodies (CreateBucketConfiguration, Delete): a strict parser
 * that turns a document into an element tree (namespaces prefixes dropped, attributes
 * ignored) and throws on anything that is not well-formed, so the caller can answer
 * MalformedXML.
 */

export interface XmlElement {
  name: string;
  children: XmlElement[];
  /** Concatenated character data directly inside this element. */
  text: string;
}

export class XmlSyntaxError extends Error {}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);|&/g, (m, ent: string | undefined) => {
    if (ent === undefined) throw new XmlSyntaxError('bare & in character data');
    if (ent.startsWith('#x')) return codePoint(parseInt(ent.slice(2), 16));
    if (ent.startsWith('#')) return codePoint(parseInt(ent.slice(1), 10));
    const v = Object.hasOwn(ENTITIES, ent) ? ENTITIES[ent] : undefined;
    if (v === undefined) throw new XmlSyntaxError(`unknown entity ${m}`);
    return v;
  });
}

function codePoint(n: number): string {
  if (!Number.isFinite(n) || n < 0 || n > 0x10ffff) throw new XmlSyntaxError('bad character reference');
  return String.fromCodePoint(n);
}

const NAME = /^[A-Za-z_][\w.\-:]*/;

/** Parse a document; returns its root element. */
export function parseXml(src: string): XmlElement {
  let i = 0;
  const n = src.length;
  if (src.charCodeAt(0) === 0xfeff) i = 1;

  const skipMisc = (): void => {
    for (;;) {
      while (i < n && /\s/.test(src[i]!)) i++;
      if (src.startsWith('<?', i)) {
        const end = src.indexOf('?>', i + 2);
        if (end < 0) throw new XmlSyntaxError('unterminated processing instruction');
        i = end + 2;
      } else if (src.startsWith('<!--', i)) {
        const end = src.indexOf('-->', i + 4);
        if (end < 0) throw new XmlSyntaxError('unterminated comment');
        i = end + 3;
      } else if (src.startsWith('<!DOCTYPE', i)) {
        throw new XmlSyntaxError('DOCTYPE is not allowed');
      } else {
        return;
      }
    }
  };

  const localName = (qname: string): string => {
    const c = qname.indexOf(':');
    return c >= 0 ? qname.slice(c + 1) : qname;
  };

  const parseElement = (depth: number): XmlElement => {
    if (depth > 64) throw new XmlSyntaxError('elements nested too deeply');
    if (src[i] !== '<') throw new XmlSyntaxError('expected an element');
    i++;
    const m = NAME.exec(src.slice(i, i + 256));
    if (!m) throw new XmlSyntaxError('bad element name');
    const qname = m[0];
    i += qname.length;
    // Attributes: name="value" or name='value'.
    for (;;) {
      while (i < n && /\s/.test(src[i]!)) i++;
      if (src.startsWith('/>', i)) {
        i += 2;
        return { name: localName(qname), children: [], text: '' };
      }
      if (src[i] === '>') {
        i++;
        break;
      }
      const a = NAME.exec(src.slice(i, i + 256));
      if (!a) throw new XmlSyntaxError('bad attribute');
      i += a[0].length;
      while (i < n && /\s/.test(src[i]!)) i++;
      if (src[i] !== '=') throw new XmlSyntaxError('attribute without value');
      i++;
      while (i < n && /\s/.test(src[i]!)) i++;
      const q = src[i];
      if (q !== '"' && q !== "'") throw new XmlSyntaxError('unquoted attribute value');
      const end = src.indexOf(q, i + 1);
      if (end < 0) throw new XmlSyntaxError('unterminated attribute value');
      if (src.slice(i + 1, end).includes('<')) throw new XmlSyntaxError('< in attribute value');
      i = end + 1;
    }
    const el: XmlElement = { name: localName(qname), children: [], text: '' };
    for (;;) {
      if (i >= n) throw new XmlSyntaxError(`unclosed element ${qname}`);
      if (src.startsWith('</', i)) {
        i += 2;
        if (!src.startsWith(qname, i)) throw new XmlSyntaxError(`mismatched end tag for ${qname}`);
        i += qname.length;
        while (i < n && /\s/.test(src[i]!)) i++;
        if (src[i] !== '>') throw new XmlSyntaxError('bad end tag');
        i++;
        return el;
      }
      if (src.startsWith('<![CDATA[', i)) {
        const end = src.indexOf(']]>', i + 9);
        if (end < 0) throw new XmlSyntaxError('unterminated CDATA');
        el.text += src.slice(i + 9, end);
        i = end + 3;
        continue;
      }
      if (src.startsWith('<!--', i)) {
        const end = src.indexOf('-->', i + 4);
        if (end < 0) throw new XmlSyntaxError('unterminated comment');
        i = end + 3;
        continue;
      }
      if (src.startsWith('<?', i)) {
        const end = src.indexOf('?>', i + 2);
        if (end < 0) throw new XmlSyntaxError('unterminated processing instruction');
        i = end + 2;
        continue;
      }
      if (src[i] === '<') {
        el.children.push(parseElement(depth + 1));
        continue;
      }
      const next = src.indexOf('<', i);
      const end = next < 0 ? n : next;
      el.text += decodeEntities(src.slice(i, end));
      i = end;
    }
  };

  skipMisc();
  const root = parseElement(0);
  skipMisc();
  if (i < n) throw new XmlSyntaxError('content after the root element');
  return root;
}

/** Children of `el` named `name`. */
export function childrenNamed(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name);
}

/** The single child named `name`, if any. */
export function child(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}
