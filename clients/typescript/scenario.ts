// What a frontend team writes with the client generated from the spec (gateway.d.ts, made by
// `make spec`). It is type-checked under --strict: a change to the spec that breaks this code breaks
// the build.
import createClient from "openapi-fetch";
import type { components, paths } from "./gateway";

type User = components["schemas"]["User"];
type Problem = components["schemas"]["Problem"];

export async function signUpAndPost(baseUrl: string): Promise<User | Problem> {
  const api = createClient<paths>({ baseUrl });
  const signedUp = await api.POST("/users", {
    body: { name: "Ada", email: "ada@example.com", password: "correct horse battery" },
  });
  if (signedUp.error) return signedUp.error;
  const basic = btoa("ada@example.com:correct horse battery");
  const token = await api.POST("/tokens", {
    headers: { Authorization: `Basic ${basic}` },
    body: { name: "browser", scopes: ["posts:write"], expires_in: 3600 },
  });
  if (token.error) return token.error;
  const auth = { Authorization: `Bearer ${token.data.access_token}` };
  const post = await api.POST("/posts", { headers: auth, body: { title: "Hello", body: "First post." } });
  if (post.error) return post.error;
  const page = await api.GET("/posts", { params: { query: { author_id: signedUp.data.id, limit: 20 } } });
  const etag = post.response.headers.get("ETag") ?? "*";
  const updated = await api.PATCH("/posts/{post_id}", {
    params: { path: { post_id: post.data.id }, header: { "If-Match": etag } },
    body: { title: `Hello again (${page.data?.items.length ?? 0} posts)` },
  });
  if (updated.error) return updated.error; // a 412 Problem when someone else changed it first
  return signedUp.data;
}
