/**
 * Swagger UI at /docs, its assets served by the service itself from the pinned
 * `swagger-ui-dist` npm package: the page works offline, and a page where users
 * paste keys loads no third-party script. Its Content-Security-Policy (set by
 * the security-headers middleware) allows only this origin.
 */
import getAbsoluteFSPath from "swagger-ui-dist/absolute-path.js";
import type { App } from "../http/env.ts";
import { ApiError } from "../errors.ts";

export const DOCS_PATH = "/docs";
/** The pinned package version is part of asset URLs, so browsers may cache them for good. */
export const SWAGGER_UI_VERSION = "5.35.0";
const ASSET_PREFIX = `${DOCS_PATH}/assets/${SWAGGER_UI_VERSION}`;

/** The only files of the package the page needs, and how they are served. */
const PACKAGE_ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
};

/** Is this path the Swagger UI page or one of its assets (they get the document headers)? */
export function isDocsPath(path: string): boolean {
  return path === DOCS_PATH || path.startsWith(`${DOCS_PATH}/`);
}

/** The page's CSP: this origin only (images may also be inline `data:` icons of the CSS). */
export const DOCS_CSP = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", "data:"],
  fontSrc: ["'self'"],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Gatehouse API</title>
  <link rel="stylesheet" href="${ASSET_PREFIX}/swagger-ui.css">
  <link rel="icon" type="image/png" href="${ASSET_PREFIX}/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="${ASSET_PREFIX}/swagger-ui-bundle.js"></script>
  <script src="${DOCS_PATH}/init.js"></script>
</body>
</html>
`;

// An external script, not an inline one: the CSP allows no inline script.
const INIT = `window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: false,
  tryItOutEnabled: false,
});
`;

const cache = new Map<string, Promise<Uint8Array>>();

function readAsset(name: string): Promise<Uint8Array> {
  let bytes = cache.get(name);
  if (!bytes) {
    bytes = Deno.readFile(`${getAbsoluteFSPath()}/${name}`);
    // A failed read is retried on the next request instead of cached.
    bytes.catch(() => cache.delete(name));
    cache.set(name, bytes);
  }
  return bytes;
}

export function registerDocsRoutes(app: App): void {
  app.get(DOCS_PATH, (c) => c.html(PAGE));
  app.get(`${DOCS_PATH}/init.js`, (c) => {
    c.header("Content-Type", "text/javascript; charset=utf-8");
    c.header("Cache-Control", "no-cache");
    return c.body(INIT);
  });
  app.get(`${ASSET_PREFIX}/:name`, async (c) => {
    const name = c.req.param("name");
    const type = Object.hasOwn(PACKAGE_ASSETS, name) ? PACKAGE_ASSETS[name] : undefined;
    if (!type) throw new ApiError("not_found", "No such asset.");
    const bytes = await readAsset(name);
    c.header("Content-Type", type);
    c.header("Cache-Control", "public, max-age=31536000, immutable");
    return c.body(bytes as Uint8Array<ArrayBuffer>);
  });
}
