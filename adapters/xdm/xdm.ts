// IHE XDM (ITI-32) media: read a zip tolerant of the messy variants met in the wild, write a valid one.
import { createHash } from 'node:crypto';
import { isXmlError, parseXml, serializeXml, type XmlLimits } from '../xml/index.js';
import { buildSubmitObjectsRequest } from '../xds/ebrim-build.js';
import { parseSubmitObjectsRequest } from '../xds/ebrim-parse.js';
import { XdsErrorCode } from '../xds/constants.js';
import type { RegistryObjectList, XdsIssue } from '../xds/model.js';
import { validateSubmission } from '../xds/validate.js';
import { readZip, writeZip, ZipError, type ZipEntry, type ZipLimits } from './zip.js';

export const XdmErrorCode = {
  NoMetadata: 'XDM_NO_METADATA',
} as const;

export class XdmError extends Error {
  override readonly name = 'XdmError';
  constructor(
    readonly code: (typeof XdmErrorCode)[keyof typeof XdmErrorCode],
    message: string,
  ) {
    super(message);
  }
}

export interface XdmDocument {
  entryId: string;
  /** Path inside the zip. */
  path: string;
  bytes: Buffer;
  mimeType: string;
  /** How the file was matched to its DocumentEntry. */
  matchedBy: 'uri' | 'entry-id' | 'hash' | 'mime-type';
}

export interface XdmSubmission {
  /** The subset folder, e.g. `IHE_XDM/SUBSET01`. */
  subsetPath: string;
  objects: RegistryObjectList;
  /** Metadata problems (parse + XDM validation, hash/size checks). Errors here do not stop the other documents. */
  issues: XdsIssue[];
  documents: XdmDocument[];
  /** Files of the subset no DocumentEntry points at (stylesheets…). */
  unreferencedFiles: string[];
}

export interface XdmPackage {
  submissions: XdmSubmission[];
  readme?: string;
  index?: string;
  /** Deviations from ITI-32 that were tolerated (backslash paths, missing IHE_XDM folder, case…). */
  warnings: string[];
}

export interface XdmReadOptions {
  zip?: Partial<ZipLimits>;
  xml?: Partial<XmlLimits>;
}

const EXTENSIONS: Record<string, string[]> = {
  'text/xml': ['xml'],
  'application/xml': ['xml'],
  'application/hl7-v3+xml': ['xml'],
  'application/pdf': ['pdf'],
  'text/plain': ['txt'],
  'text/html': ['htm', 'html'],
  'image/jpeg': ['jpg', 'jpeg'],
  'image/png': ['png'],
  'image/tiff': ['tif', 'tiff'],
  'application/dicom': ['dcm'],
  'text/rtf': ['rtf'],
  'application/rtf': ['rtf'],
};

function extensionOf(path: string): string {
  const base = path.split('/').pop() ?? '';
  const dot = base.lastIndexOf('.');
  return dot < 0 ? '' : base.slice(dot + 1).toLowerCase();
}

function dirname(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

function normalizeRelative(path: string): string {
  return path.replace(/\\/g, '/').replace(/^\.\//, '').replace(/^\/+/, '');
}

/** Reads an XDM zip. Throws ZipError (unsafe/broken archive) or XdmError (no METADATA.XML anywhere). */
export async function readXdm(zipBytes: Buffer, options: XdmReadOptions = {}): Promise<XdmPackage> {
  const entries = await readZip(zipBytes, options.zip);
  const warnings: string[] = [];
  if (entries.some((e) => e.hadBackslashes)) warnings.push('entry names use backslashes as separators (read as /)');
  const byLower = new Map<string, ZipEntry>();
  for (const e of entries) byLower.set(e.path.toLowerCase(), e);

  const metadataFiles = entries
    .filter((e) => (e.path.split('/').pop() ?? '').toLowerCase() === 'metadata.xml')
    .sort((a, b) => a.path.localeCompare(b.path));
  if (metadataFiles.length === 0) {
    throw new XdmError(
      XdmErrorCode.NoMetadata,
      'No METADATA.XML in the archive: an XDM zip has IHE_XDM/SUBSETnn/METADATA.XML; this is not XDM media',
    );
  }

  // The package root: the folder that holds IHE_XDM (or the subset folders when IHE_XDM is missing).
  const firstSubset = dirname(metadataFiles[0]!.path);
  const parts = firstSubset.split('/');
  const xdmIndex = parts.findIndex((p) => p.toLowerCase() === 'ihe_xdm');
  const root = xdmIndex >= 0 ? parts.slice(0, xdmIndex).join('/') : parts.slice(0, -1).join('/');
  if (xdmIndex < 0) warnings.push('no IHE_XDM folder: the subset folders are at the top of the archive');
  if (root) warnings.push(`the package is inside an extra folder "${root}/"`);
  for (const m of metadataFiles)
    if (m.path.split('/').pop() !== 'METADATA.XML')
      warnings.push(`"${m.path}" is not upper case (METADATA.XML expected): accepted`);
  const atRoot = (name: string) => byLower.get((root ? `${root}/${name}` : name).toLowerCase());
  const readme = atRoot('README.TXT');
  const index = atRoot('INDEX.HTM');
  if (!readme) warnings.push('README.TXT is missing');
  if (!index) warnings.push('INDEX.HTM is missing');

  const submissions: XdmSubmission[] = [];
  for (const metadata of metadataFiles) {
    const subsetPath = dirname(metadata.path);
    const issues: XdsIssue[] = [];
    let objects: RegistryObjectList = {
      submissionSets: [],
      documentEntries: [],
      folders: [],
      associations: [],
      objectRefs: [],
    };
    try {
      const parsed = parseSubmitObjectsRequest(
        parseXml(metadata.bytes, { source: metadata.path, limits: options.xml }).root,
      );
      objects = parsed.objects;
      issues.push(...parsed.issues);
    } catch (error) {
      if (!isXmlError(error)) throw error;
      issues.push({
        code: XdsErrorCode.registryMetadataError,
        severity: 'error',
        message: error.message,
        location: metadata.path,
      });
    }
    const subsetFiles = entries.filter(
      (e) => dirname(e.path).toLowerCase() === subsetPath.toLowerCase() && e !== metadata,
    );
    const claimed = new Set<ZipEntry>();
    const documents: XdmDocument[] = [];
    for (const entry of objects.documentEntries) {
      const mimeType = entry.mimeType ?? 'application/octet-stream';
      let found: ZipEntry | undefined;
      let matchedBy: XdmDocument['matchedBy'] = 'uri';
      if (entry.uri) {
        const rel = normalizeRelative(entry.uri);
        found =
          byLower.get(`${subsetPath}/${rel}`.toLowerCase()) ??
          byLower.get((root ? `${root}/${rel}` : rel).toLowerCase());
        if (
          found &&
          !entries.some((e) => e.path === `${subsetPath}/${rel}` || e.path === (root ? `${root}/${rel}` : rel))
        )
          warnings.push(`URI "${entry.uri}" matched "${found.path}" ignoring case`);
      }
      if (!found) {
        matchedBy = 'entry-id';
        found = subsetFiles.find(
          (f) =>
            !claimed.has(f) &&
            (f.path.split('/').pop() ?? '').replace(/\.[^.]*$/, '').toLowerCase() === entry.id.toLowerCase(),
        );
      }
      if (!found && entry.hash) {
        matchedBy = 'hash';
        found = subsetFiles.find(
          (f) => !claimed.has(f) && createHash('sha1').update(f.bytes).digest('hex') === entry.hash!.toLowerCase(),
        );
      }
      if (!found) {
        matchedBy = 'mime-type';
        const exts = EXTENSIONS[mimeType.toLowerCase()] ?? [];
        const candidates = subsetFiles.filter((f) => !claimed.has(f) && exts.includes(extensionOf(f.path)));
        if (candidates.length === 1) found = candidates[0];
      }
      if (!found) {
        issues.push({
          code: XdsErrorCode.missingDocument,
          severity: 'error',
          message: `DocumentEntry ${entry.id}: no file of ${subsetPath || 'the archive'} matches it (URI ${entry.uri ? `"${entry.uri}"` : 'missing'}, no file named after the entry, no hash match, no single ${mimeType} file)`,
          location: `DocumentEntry ${entry.id}`,
        });
        continue;
      }
      if (matchedBy !== 'uri')
        warnings.push(
          `DocumentEntry ${entry.id} has ${entry.uri ? 'a URI that names no file' : 'no URI'}; matched "${found.path}" by ${matchedBy}`,
        );
      claimed.add(found);
      documents.push({ entryId: entry.id, path: found.path, bytes: found.bytes, mimeType, matchedBy });
    }
    const docMap = new Map(documents.map((d) => [d.entryId, { bytes: d.bytes }]));
    issues.push(
      ...validateSubmission(objects, { profile: 'XDM', documents: docMap }).filter(
        (i) => i.code !== XdsErrorCode.missingDocument,
      ),
    );
    submissions.push({
      subsetPath,
      objects,
      issues,
      documents,
      unreferencedFiles: subsetFiles.filter((f) => !claimed.has(f)).map((f) => f.path),
    });
  }
  return {
    submissions,
    ...(readme ? { readme: readme.bytes.toString('utf8') } : {}),
    ...(index ? { index: index.bytes.toString('utf8') } : {}),
    warnings,
  };
}

export interface XdmDocumentToWrite {
  /** The DocumentEntry id this file belongs to. */
  entryId: string;
  bytes: Uint8Array;
}

export interface XdmWriteOptions {
  /** Who made the package (README.TXT), e.g. "Keney Hub — CH Test". */
  sender: string;
  /** Contact for questions about the package (README.TXT). */
  contact?: string;
  /** Fixed time for reproducible archives (tests). */
  mtime?: Date;
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };
const html = (s: string) => s.replace(/[&<>"]/g, (c) => ESC[c]!);

function fileExtension(mimeType: string): string {
  return (EXTENSIONS[mimeType.toLowerCase()]?.[0] ?? 'bin').toUpperCase();
}

/**
 * Writes a valid XDM zip (ITI-32): README.TXT, INDEX.HTM, IHE_XDM/SUBSET01/METADATA.XML and the documents as
 * DOC0001.XML… The DocumentEntries get their URI, hash and size from the files (the input is not modified).
 */
export async function writeXdm(
  objects: RegistryObjectList,
  documents: readonly XdmDocumentToWrite[],
  options: XdmWriteOptions,
): Promise<Buffer> {
  const copy: RegistryObjectList = structuredClone(objects);
  const files: { path: string; bytes: Uint8Array }[] = [];
  documents.forEach((doc, i) => {
    const entry = copy.documentEntries.find((e) => e.id === doc.entryId);
    if (!entry) throw new Error(`writeXdm: document for "${doc.entryId}" has no DocumentEntry with that id`);
    const name = `DOC${String(i + 1).padStart(4, '0')}.${fileExtension(entry.mimeType ?? '')}`;
    entry.uri = name;
    entry.hash = createHash('sha1').update(doc.bytes).digest('hex');
    entry.size = String(doc.bytes.byteLength);
    files.push({ path: `IHE_XDM/SUBSET01/${name}`, bytes: doc.bytes });
  });
  for (const entry of copy.documentEntries) {
    if (!documents.some((d) => d.entryId === entry.id))
      throw new Error(`writeXdm: DocumentEntry "${entry.id}" has no document`);
  }
  const metadata = serializeXml(buildSubmitObjectsRequest(copy));
  const set = copy.submissionSets[0];
  const readme = [
    'IHE XDM media (ITI-32)',
    '',
    `Sender: ${options.sender}`,
    ...(options.contact ? [`Contact: ${options.contact}`] : []),
    `Created: ${(options.mtime ?? new Date()).toISOString()}`,
    '',
    'IHE_XDM/SUBSET01/METADATA.XML describes the documents (XDS metadata).',
    'Open INDEX.HTM for the list of files.',
    '',
  ].join('\r\n');
  const index =
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>XDM</title></head><body>' +
    `<h1>${html(set?.title ?? 'Documents')}</h1><ul>` +
    '<li><a href="README.TXT">README.TXT</a></li>' +
    '<li><a href="IHE_XDM/SUBSET01/METADATA.XML">IHE_XDM/SUBSET01/METADATA.XML</a></li>' +
    copy.documentEntries
      .map(
        (e) =>
          `<li><a href="IHE_XDM/SUBSET01/${html(e.uri ?? '')}">${html(e.title ?? e.uri ?? e.id)}</a> (${html(e.mimeType ?? '')})</li>`,
      )
      .join('') +
    '</ul></body></html>';
  return writeZip(
    [
      { path: 'README.TXT', bytes: Buffer.from(readme, 'utf8') },
      { path: 'INDEX.HTM', bytes: Buffer.from(index, 'utf8') },
      { path: 'IHE_XDM/SUBSET01/METADATA.XML', bytes: Buffer.from(metadata, 'utf8') },
      ...files,
    ],
    options.mtime,
  );
}

export { ZipError };
