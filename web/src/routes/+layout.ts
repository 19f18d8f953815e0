// A single-page app: rendered in the browser only, nothing prerendered but the fallback.
export const ssr = false;
export const prerender = false;
