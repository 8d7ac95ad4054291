interface RouteEntry {
  method: string;
  path: string;
}

/** Answers "which methods does this path support?" from the app's route table. */
export class RouteMethods {
  #compiled?: { method: string; pattern: RegExp }[];

  constructor(private readonly routes: () => readonly RouteEntry[]) {}

  allowedFor(path: string): string[] {
    this.#compiled ??= this.routes()
      .filter((r) => r.method !== "ALL" && !r.path.includes("*"))
      .map((r) => ({ method: r.method, pattern: toPattern(r.path) }));
    const methods = new Set<string>();
    for (const route of this.#compiled) {
      if (route.pattern.test(path)) methods.add(route.method);
    }
    if (methods.has("GET")) methods.add("HEAD");
    return [...methods].sort();
  }
}

function toPattern(path: string): RegExp {
  const source = path
    .split("/")
    .map((part) => part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join("/");
  return new RegExp(`^${source}/?$`);
}
