import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { App, AppEnv } from "./http/env.ts";
import { ApiError, errorBody } from "./errors.ts";
import { corsPolicy } from "./http/cors_policy.ts";
import { requireJsonBodies } from "./http/json_content_type.ts";
import { RouteMethods } from "./http/method_not_allowed.ts";
import { requestContext } from "./http/request_context.ts";
import { securityHeaders } from "./http/security_headers.ts";
import { refuseUnstorableInput } from "./http/storable_input.ts";
import { isDatabaseUnavailable } from "./db/unavailable.ts";
import { adminRoutes } from "./routes/admin.ts";
import { apiKeyRoutes } from "./routes/api_keys.ts";
import { authRoutes } from "./routes/auth.ts";
import { authHealthRoutes } from "./routes/auth_health.ts";
import { sessionRoutes } from "./routes/sessions.ts";
import { chatSocketRoutes, registerChatSocket } from "./routes/chat_ws.ts";
import { chatbotRoutes } from "./routes/chatbots.ts";
import { consentRoutes } from "./routes/consents.ts";
import { conversationRoutes } from "./routes/conversations.ts";
import { DOCS_CSP, isDocsPath, registerDocsRoutes } from "./routes/docs.ts";
import { healthRoutes } from "./routes/health.ts";
import { registerMetricsRoutes } from "./routes/metrics.ts";
import { modelRoutes } from "./routes/models.ts";
import { openAiRoutes } from "./routes/openai.ts";
import { isOpenAiPath, openAiErrorBody } from "./routes/openai_errors.ts";
import { queryRoutes } from "./routes/query.ts";
import { usageRoutes } from "./routes/usage.ts";
import { userContextRoutes } from "./routes/user_context.ts";
import { userRoutes } from "./routes/users.ts";
import { webhookRoutes } from "./routes/webhooks.ts";
import { wellKnownRoutes } from "./routes/well_known.ts";
import type { Services } from "./services.ts";
import { VERSION } from "./version.ts";

/** Validation failures become the contract's 422 with every issue listed. */
function validationHook(
  result: {
    success: boolean;
    error?: { issues: readonly { path: PropertyKey[]; message: string }[] };
  },
  c: Context<AppEnv>,
) {
  if (result.success || !result.error) return;
  const issues = result.error.issues.map((issue) => ({
    path: issue.path.map((p) => (typeof p === "symbol" ? String(p) : p)),
    message: issue.message,
  }));
  return errorResponse(c, new ApiError("validation_error", undefined, { issues }));
}

/** The contract's error body; under /openai/ OpenAI's shape, which its SDKs parse. */
function errorResponse(c: Context<AppEnv>, error: ApiError): Response {
  for (const [name, value] of Object.entries(error.headers ?? {})) c.header(name, value);
  // RFC 6750: every 401 names the scheme; `invalid_token` when one was presented.
  if (error.status === 401 && !error.headers?.["WWW-Authenticate"]) {
    const presented = c.req.header("authorization") || c.req.header("x-api-key");
    c.header("WWW-Authenticate", presented ? 'Bearer error="invalid_token"' : "Bearer");
  }
  const requestId = c.get("requestId") ?? "unknown";
  if (isOpenAiPath(c.req.path)) {
    return c.json(
      openAiErrorBody(error.code, error.message, requestId, error.detail),
      error.status,
    );
  }
  return c.json(errorBody(error.code, requestId, error.message, error.detail), error.status);
}

export function createApp(services: Services): App {
  const { config } = services;
  const app: App = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const routeMethods = new RouteMethods(() => app.routes);

  app.use("*", requestContext(services));
  app.use("*", securityHeaders(isDocsPath, DOCS_CSP));
  app.use("*", corsPolicy(config.CORS_ORIGINS));
  app.use(
    "*",
    bodyLimit({
      maxSize: config.BODY_LIMIT_BYTES,
      onError: () => {
        throw new ApiError(
          "payload_too_large",
          `The request body exceeds ${config.BODY_LIMIT_BYTES} bytes.`,
        );
      },
    }),
  );
  const isRouted = (method: string, path: string) => routeMethods.allowedFor(path).includes(method);
  app.use("/v1/*", requireJsonBodies(isRouted));
  app.use("/openai/v1/*", requireJsonBodies(isRouted));
  app.use("*", refuseUnstorableInput());

  // The API surface, one line per area.
  app.openapiRoutes(healthRoutes);
  registerMetricsRoutes(app);
  app.openapiRoutes(wellKnownRoutes);
  app.openapiRoutes(authHealthRoutes);
  app.openapiRoutes(authRoutes);
  app.openapiRoutes(sessionRoutes);
  app.openapiRoutes(apiKeyRoutes);
  app.openapiRoutes(userRoutes);
  app.openapiRoutes(userContextRoutes);
  app.openapiRoutes(chatbotRoutes);
  app.openapiRoutes(consentRoutes);
  app.openapiRoutes(modelRoutes);
  app.openapiRoutes(queryRoutes);
  app.openapiRoutes(conversationRoutes);
  app.openapiRoutes(chatSocketRoutes);
  registerChatSocket(app);
  app.openapiRoutes(usageRoutes);
  app.openapiRoutes(webhookRoutes);
  app.openapiRoutes(adminRoutes);
  app.openapiRoutes(openAiRoutes);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT access token or gate_ API key",
    description: "An access token from login/refresh, or an API key.",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "apiKeyHeader", {
    type: "apiKey",
    in: "header",
    name: "X-API-Key",
    description: "An API key (gate_...). Never accepted in the URL.",
  });

  const documentConfig = {
    openapi: "3.1.0",
    info: {
      title: "Gatehouse API",
      version: VERSION,
      description:
        "The front door for AI chatbot and agent products: auth, API keys, rate limits, user context and LLM queries.",
      license: { name: "MIT", identifier: "MIT" },
      contact: { name: "Gatehouse", url: "https://github.com/gatehouse" },
    },
    servers: [{
      // Never the request's Host header: Swagger UI would send pasted tokens there.
      url: config.PUBLIC_URL ?? "/",
      description: config.mode === "embedded"
        ? "Local development server"
        : "Production (this deployment)",
      "x-internal": false,
    }],
    tags: [
      { name: "health", description: "Liveness, readiness and component health." },
      { name: "auth", description: "Registration, login, sessions and tokens." },
      { name: "api-keys", description: "API keys for programs." },
      { name: "users", description: "Users, details and LLM context." },
      { name: "chatbots", description: "Chatbot configuration." },
      { name: "query", description: "LLM queries and models." },
      { name: "chat", description: "Conversations, streaming and consent." },
      { name: "usage", description: "Usage and cost accounting." },
      {
        name: "webhooks",
        description:
          "Signed event deliveries (Standard Webhooks): quota thresholds, expiring keys, security events.",
      },
      { name: "admin", description: "Administration." },
      {
        name: "openai",
        description: "OpenAI-compatible Chat Completions: point any OpenAI SDK or tool at " +
          "`<service>/openai/v1` with a Gatehouse API key (or access token) as its API key. " +
          "Errors here use OpenAI's shape `{error: {message, type, param, code}}`.",
      },
    ],
  };
  // Built once, on first request (every route is registered by then): the
  // document never depends on the request, and building it is costly.
  let document: string | undefined;
  app.get("/openapi.json", (c) => {
    document ??= JSON.stringify(app.getOpenAPI31Document(documentConfig));
    return c.body(document, 200, { "Content-Type": "application/json" });
  });
  registerDocsRoutes(app);

  app.notFound((c) => {
    const allowed = routeMethods.allowedFor(c.req.path);
    if (allowed.length > 0) {
      c.header("Allow", allowed.join(", "));
      return errorResponse(
        c,
        new ApiError("method_not_allowed", `${c.req.method} is not allowed on this path.`),
      );
    }
    return errorResponse(c, ApiError.notFound("route"));
  });

  app.onError((error, c) => {
    if (error instanceof ApiError) {
      if (error.cause) {
        services.log.warn("request failed", {
          request_id: c.get("requestId"),
          code: error.code,
          cause: error.cause,
        });
      }
      return errorResponse(c, error);
    }
    if (error instanceof HTTPException && error.status < 500) {
      // Hono's validators throw 400 for malformed JSON bodies.
      const code = error.status === 413 ? "payload_too_large" : "bad_request";
      const message = code === "bad_request" ? "Malformed request: " + error.message : undefined;
      return errorResponse(c, new ApiError(code, message));
    }
    if (isDatabaseUnavailable(error)) {
      services.log.warn("database unavailable", { request_id: c.get("requestId"), error });
      return errorResponse(
        c,
        new ApiError("service_unavailable", "The database is unavailable; try again shortly."),
      );
    }
    services.log.error("unhandled error", { request_id: c.get("requestId"), error });
    return errorResponse(c, new ApiError("internal_error"));
  });

  return app;
}
