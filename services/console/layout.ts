import { html, type Html } from './html.ts';

export interface PageUser {
  name: string;
  csrf: string;
}

/**
 * Every page: a skip link, the navigation, the signed-in user with a sign-out form, and the content in <main>.
 * Readable without JavaScript; times are written as <time datetime> in UTC and shown in the viewer's zone
 * by the small script when it runs.
 */
export function page(title: string, user: PageUser | null, body: Html): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · releasedesk</title>
<link rel="stylesheet" href="/console/assets/style.css">
<link rel="icon" href="data:,">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
  <nav aria-label="Main">
    <a href="/" class="brand">releasedesk</a>
    <a href="/ui/health">Health</a>
    ${
      user
        ? html`<a href="/account">Account</a>
    <form method="post" action="/logout" class="inline">
      <input type="hidden" name="_csrf" value="${user.csrf}">
      <button type="submit">Sign out ${user.name}</button>
    </form>`
        : html`<a href="/login">Sign in</a>`
    }
  </nav>
</header>
<main id="main">
<h1>${title}</h1>
${body}
</main>
<script src="/console/assets/local-time.js" defer></script>
</body>
</html>
`;
}

/** A time people read: UTC in the markup, the viewer's zone once the script has run. */
export const time = (d: Date | string | null | undefined) => {
  if (!d) return html`<span>-</span>`;
  const iso = new Date(d).toISOString();
  return html`<time datetime="${iso}">${iso.replace('T', ' ').slice(0, 16)} UTC</time>`;
};
