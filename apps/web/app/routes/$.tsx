// Every path no other route matches: a 404 page in the site's frame (root ErrorBoundary).
export async function loader() {
  throw new Response("Not found", { status: 404 });
}

export default function NotFound() {
  return null;
}
