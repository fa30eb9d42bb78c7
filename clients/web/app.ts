// The example frontend of the Gateway API, as a frontend team meets it: served from an origin of its
// own, talking to the API through the client generated from the spec (openapi-typescript's types
// driving openapi-fetch), with bearer tokens and problem+json errors.
//
// Build: node_modules/.bin/esbuild clients/web/app.ts clients/web/index.html --bundle --format=esm \
//          --loader:.html=copy --outdir=clients/web/dist
// Run:   GATEWAY_CORS_ORIGINS=http://localhost:5173 make run
//        python3 -m http.server --directory clients/web/dist 5173
//        then open http://localhost:5173/?api=http://127.0.0.1:8080/api/v1 (`api` defaults to that URL)
import createClient from "openapi-fetch";
import type { components, paths } from "../typescript/gateway";

type Post = components["schemas"]["Post"];
type Problem = components["schemas"]["Problem"];

class NetworkError extends Error {}

const apiBaseUrl = new URLSearchParams(location.search).get("api") ?? "http://127.0.0.1:8080/api/v1";
const api = createClient<paths>({ baseUrl: apiBaseUrl });
// fetch rejects without a response both when the API is down and when its CORS policy does not name
// this page's origin: the browser does not tell the page which.
api.use({ onError: ({ error }) => new NetworkError(String(error)) });

// In memory only: reloading the page signs out, and nothing is left behind in storage.
let accessToken: string | undefined;

const status = byId("status", HTMLParagraphElement);
const problem = byId("problem", HTMLDivElement);
const posts = byId("posts", HTMLOListElement);
const noPosts = byId("no-posts", HTMLParagraphElement);

function byId<T extends HTMLElement>(id: string, kind: new () => T): T {
  const element = document.getElementById(id);
  if (!(element instanceof kind)) throw new Error(`the page has no #${id}`);
  return element;
}

function field(form: HTMLFormElement, name: string): string {
  const value = new FormData(form).get(name);
  return typeof value === "string" ? value : "";
}

function tell(message: string): void {
  problem.replaceChildren();
  status.textContent = message;
}

function complain(headline: string, explanation: string): void {
  status.textContent = "";
  const strong = document.createElement("strong");
  strong.textContent = headline;
  problem.replaceChildren(strong, " ", explanation);
}

/** What went wrong, in the words of the API's problem document (RFC 9457). */
function complainOf(action: string, error: Problem | undefined, response: Response): void {
  complain(`${action} failed: ${error?.title ?? `HTTP ${response.status}`}.`, error?.detail ?? "");
}

function onSubmit(formId: string, action: string, work: (form: HTMLFormElement) => Promise<void>): void {
  const form = byId(formId, HTMLFormElement);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void attempt(action, () => work(form));
  });
}

async function attempt(action: string, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (!(error instanceof NetworkError)) throw error;
    complain(
      `${action} failed: network error.`,
      `The API at ${apiBaseUrl} could not be reached, or it does not accept requests from ${location.origin}.`,
    );
  }
}

// HTTP Basic credentials are UTF-8 (RFC 7617); btoa alone takes only Latin-1.
function basicCredentials(user: string, password: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(`${user}:${password}`)));
}

// textContent, never innerHTML: posts are other people's text.
function postItem(post: Post): HTMLLIElement {
  const item = document.createElement("li");
  const article = item.appendChild(document.createElement("article"));
  article.appendChild(document.createElement("h3")).textContent = post.title;
  article.appendChild(document.createElement("p")).textContent = post.body;
  const written = article.appendChild(document.createElement("time"));
  written.dateTime = post.created_at;
  written.textContent = new Date(post.created_at).toLocaleString();
  return item;
}

async function showPosts(): Promise<void> {
  const result = await api.GET("/posts", { params: { query: { limit: 20 } } });
  if (!result.data) return complainOf("Loading posts", result.error, result.response);
  posts.replaceChildren(...result.data.items.map(postItem));
  noPosts.hidden = result.data.items.length > 0;
}

onSubmit("signup", "Signing up", async (form) => {
  const result = await api.POST("/users", {
    body: { name: field(form, "name"), email: field(form, "email"), password: field(form, "password") },
  });
  if (!result.data) return complainOf("Signing up", result.error, result.response);
  byId("signin-email", HTMLInputElement).value = result.data.email ?? "";
  form.reset();
  tell(`Welcome, ${result.data.name}. Sign in to get a token.`);
});

onSubmit("signin", "Signing in", async (form) => {
  const email = field(form, "email");
  const result = await api.POST("/tokens", {
    headers: { Authorization: `Basic ${basicCredentials(email, field(form, "password"))}` },
    body: { name: "web page", scopes: ["posts:write"], expires_in: 3600 },
  });
  if (!result.data) return complainOf("Signing in", result.error, result.response);
  accessToken = result.data.access_token;
  byId("write-fields", HTMLFieldSetElement).disabled = false;
  byId("write-hint", HTMLParagraphElement).textContent = `Writing as ${email}.`;
  form.reset();
  const minutes = Math.round(result.data.expires_in / 60);
  tell(`Signed in as ${email}. Your token is valid for ${minutes} minute${minutes === 1 ? "" : "s"}.`);
});

onSubmit("write", "Publishing", async (form) => {
  const result = await api.POST("/posts", {
    headers: { Authorization: `Bearer ${accessToken ?? ""}` },
    body: { title: field(form, "title"), body: field(form, "body") },
  });
  if (!result.data) return complainOf("Publishing", result.error, result.response);
  form.reset();
  tell(`Published “${result.data.title}”.`);
  await showPosts();
});

void attempt("Loading posts", showPosts);
