#!/usr/bin/env node
// s3rver with AWS Signature Version 4 checked, for dagd's S3 tests.
//
// s3rver 3.7.1 checks V2 signatures but, for V4, only that the access key
// exists: a wrong secret would pass. This wrapper puts a middleware in
// front of s3rver's own that recomputes the V4 signature of every request
// signed with an Authorization header, the way S3 does, and answers 403
// SignatureDoesNotMatch when it differs; it also checks that a PUT body
// hashes to its x-amz-content-sha256 (400 XAmzContentSHA256Mismatch).
//
// It also mends a race in s3rver's PUT, which answers before the body is
// all on disk (a GET right after could read a short file): bodies, which
// the middleware has read whole, are written completely first.
//
// Usage: node s3rver-sigv4.js --directory DIR [--address 127.0.0.1]
//          [--port 0] [--port-file FILE] [--access-key ID:SECRET]...
//          [--bucket NAME]...
// s3rver's own key pair S3RVER:S3RVER always works; --access-key adds
// more, --bucket creates buckets before the port file is written.
// With --port 0 the system picks a free port; the port is written to
// FILE (atomically, via a rename) once the server listens.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const S3rver = require('s3rver');
const AWSAccount = require('s3rver/lib/models/account');
const S3Error = require('s3rver/lib/models/error');
const FilesystemStore = require('s3rver/lib/stores/filesystem');

function parseArgs(argv) {
  const args = {
    address: '127.0.0.1', port: 0, directory: '', portFile: '',
    accessKeys: [], buckets: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
      return argv[++i];
    };
    switch (argv[i]) {
      case '--address': args.address = next(); break;
      case '--port': args.port = Number(next()); break;
      case '--directory': args.directory = next(); break;
      case '--port-file': args.portFile = next(); break;
      case '--access-key': {
        const value = next();
        const colon = value.indexOf(':');
        if (colon <= 0) throw new Error('--access-key wants ID:SECRET');
        args.accessKeys.push([value.slice(0, colon), value.slice(colon + 1)]);
        break;
      }
      case '--bucket': args.buckets.push(next()); break;
      default: throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  if (!args.directory) throw new Error('--directory is required');
  return args;
}

// RFC 3986 percent-encoding with upper-case hex, as SigV4 wants it.
function uriEncode(s, encodeSlash) {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(c) || (c === '/' && !encodeSlash)) {
      out += c;
    } else {
      out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
    }
  }
  return out;
}

// S3's canonical URI: each segment decoded, then encoded once (S3, unlike
// other services, does not encode the path a second time).
function canonicalUri(rawPath) {
  return rawPath
    .split('/')
    .map(segment => uriEncode(decodeURIComponent(segment), true))
    .join('/');
}

function canonicalQuery(rawQuery) {
  if (!rawQuery) return '';
  return rawQuery
    .split('&')
    .filter(pair => pair.length > 0)
    .map(pair => {
      const eq = pair.indexOf('=');
      const key = eq < 0 ? pair : pair.slice(0, eq);
      const value = eq < 0 ? '' : pair.slice(eq + 1);
      return [
        uriEncode(decodeURIComponent(key), true),
        uriEncode(decodeURIComponent(value), true),
      ];
    })
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

function hmac(key, data) {
  return crypto.createHmac('sha256', key).update(data, 'utf8').digest();
}

function sha256Hex(data) {
  return crypto.createHash('sha256').update(data).digest('hex');
}

// Throws an S3Error unless the request's V4 signature is right.
function verifySignature(req, authorization) {
  const fields = new Map(
    authorization
      .slice('AWS4-HMAC-SHA256'.length)
      .split(',')
      .map(part => part.trim())
      .map(part => [part.slice(0, part.indexOf('=')), part.slice(part.indexOf('=') + 1)]),
  );
  const credential = (fields.get('Credential') || '').split('/');
  const signedHeaders = fields.get('SignedHeaders') || '';
  const provided = fields.get('Signature') || '';
  if (credential.length !== 5 || credential[4] !== 'aws4_request') {
    throw new S3Error('AuthorizationHeaderMalformed', `bad Credential ${credential.join('/')}`);
  }
  const [accessKeyId, date, region, service] = credential;
  const account = AWSAccount.registry.get(accessKeyId);
  if (!account) return;  // s3rver answers InvalidAccessKeyId itself
  const secret = account.accessKeys.get(accessKeyId);
  const headerNames = signedHeaders.split(';');
  for (const required of ['host', 'x-amz-date', 'x-amz-content-sha256']) {
    if (!headerNames.includes(required)) {
      throw new S3Error('AccessDenied', `header ${required} is not signed`);
    }
  }
  const canonicalHeaders = headerNames
    .map(name => {
      const value = req.headers[name];
      if (value === undefined) {
        throw new S3Error('AccessDenied', `signed header ${name} is missing`);
      }
      return `${name}:${String(value).trim().replace(/\s+/g, ' ')}\n`;
    })
    .join('');
  const queryStart = req.url.indexOf('?');
  const rawPath = queryStart < 0 ? req.url : req.url.slice(0, queryStart);
  const rawQuery = queryStart < 0 ? '' : req.url.slice(queryStart + 1);
  const canonicalRequest = [
    req.method,
    canonicalUri(rawPath),
    canonicalQuery(rawQuery),
    canonicalHeaders,
    signedHeaders,
    req.headers['x-amz-content-sha256'],
  ].join('\n');
  const amzDate = req.headers['x-amz-date'];
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    scope,
    sha256Hex(canonicalRequest),
  ].join('\n');
  let key = hmac('AWS4' + secret, date);
  key = hmac(key, region);
  key = hmac(key, service);
  key = hmac(key, 'aws4_request');
  const expected = hmac(key, stringToSign).toString('hex');
  if (expected !== provided) {
    throw new S3Error(
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature ' +
        'you provided. Check your key and signing method.',
      // Details become response headers too: no newlines.
      {
        AWSAccessKeyId: accessKeyId,
        CanonicalRequest: canonicalRequest.replace(/\n/g, '\\n'),
      },
    );
  }
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function sigv4Middleware() {
  return async function sigv4(ctx, next) {
    const authorization = ctx.get('Authorization');
    if (!authorization.startsWith('AWS4-HMAC-SHA256')) return next();
    verifySignature(ctx.req, authorization);
    const claimed = ctx.get('x-amz-content-sha256');
    if (ctx.method === 'PUT' && claimed !== 'UNSIGNED-PAYLOAD') {
      const body = await readBody(ctx.req);
      if (sha256Hex(body) !== claimed.toLowerCase()) {
        const err = new S3Error(
          'XAmzContentSHA256Mismatch',
          "The provided 'x-amz-content-sha256' header does not match what was computed.",
        );
        err.status = 400;  // as S3 answers; s3rver's table lacks the code
        err.expose = true;
        throw err;
      }
      // s3rver stores a Buffer as it is; the stream has been read.
      ctx.req = body;
    }
    return next();
  };
}

const originalPutObject = FilesystemStore.prototype.putObject;
FilesystemStore.prototype.putObject = async function putObject(object) {
  if (!Buffer.isBuffer(object.content)) {
    return originalPutObject.call(this, object);
  }
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  await fs.promises.mkdir(path.dirname(objectPath), { recursive: true });
  await fs.promises.writeFile(objectPath, object.content);
  const md5 = crypto.createHash('md5').update(object.content).digest('hex');
  await this.putMetadata(object.bucket, object.key, object.metadata, md5);
  return { size: object.content.length, md5 };
};

async function main() {
  const args = parseArgs(process.argv.slice(2));
  fs.mkdirSync(args.directory, { recursive: true });
  const server = new S3rver({
    address: args.address,
    port: args.port,
    directory: args.directory,
    silent: true,
    configureBuckets: args.buckets.map(name => ({ name })),
  });
  for (const [id, secret] of args.accessKeys) {
    AWSAccount.DUMMY_ACCOUNT.createKeyPair(id, secret);
  }
  // Koa composes its middleware when it starts listening: first in line.
  // s3rver's error handler (context.onerror) renders a thrown S3Error.
  server.middleware.unshift(sigv4Middleware());
  const { port } = await server.run();
  if (args.portFile) {
    const tmp = `${args.portFile}.tmp`;
    fs.writeFileSync(tmp, String(port));
    fs.renameSync(tmp, args.portFile);
  }
  process.stdout.write(`s3rver-sigv4 listening on ${args.address}:${port}\n`);
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch(err => {
  process.stderr.write(`s3rver-sigv4: ${err.stack || err}\n`);
  process.exit(1);
});
