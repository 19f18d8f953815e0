// Model output to safe HTML: Markdown (marked), code highlighted (highlight.js), then
// sanitized (DOMPurify) before it reaches the DOM. Raw HTML a model writes is shown as
// text, never parsed; images are not loaded (a model's URL would be a request to
// another origin), their alt text is shown instead; style attributes are removed
// because the page's CSP refuses them anyway.
import DOMPurify from 'dompurify';
import { Marked, type Tokens } from 'marked';
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import css from 'highlight.js/lib/languages/css';
import diff from 'highlight.js/lib/languages/diff';
import go from 'highlight.js/lib/languages/go';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import markdown from 'highlight.js/lib/languages/markdown';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';

// The languages people ask models about most; the rest is shown unhighlighted (each
// language costs bundle size, and the chat page has a budget).
const LANGUAGES = { bash, c, cpp, css, diff, go, java, javascript, json, markdown, python, rust, sql, typescript, xml, yaml };
for (const [name, language] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, language);
hljs.registerAliases(['sh', 'shell', 'zsh'], { languageName: 'bash' });
hljs.registerAliases(['js', 'jsx', 'mjs'], { languageName: 'javascript' });
hljs.registerAliases(['ts', 'tsx'], { languageName: 'typescript' });
hljs.registerAliases(['py'], { languageName: 'python' });
hljs.registerAliases(['html', 'svg'], { languageName: 'xml' });
hljs.registerAliases(['yml'], { languageName: 'yaml' });
hljs.registerAliases(['md'], { languageName: 'markdown' });
hljs.registerAliases(['rs'], { languageName: 'rust' });
hljs.registerAliases(['c++', 'hpp', 'h'], { languageName: 'cpp' });

export function escapeHtml(text: string): string {
	return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const marked = new Marked({
	gfm: true,
	breaks: false,
	renderer: {
		html({ text }: Tokens.HTML | Tokens.Tag): string {
			return escapeHtml(text);
		},
		image({ text }: Tokens.Image): string {
			return text ? `<span class="image-alt">[${escapeHtml(text)}]</span>` : '';
		},
		code({ text, lang }: Tokens.Code): string {
			const language = (lang ?? '').trim().split(/\s+/)[0].toLowerCase();
			const known = language && hljs.getLanguage(language);
			const body = known ? hljs.highlight(text, { language, ignoreIllegals: true }).value : escapeHtml(text);
			const label = language ? `<span class="code-lang">${escapeHtml(language)}</span>` : '';
			return `<div class="code-block"><div class="code-bar">${label}<button type="button" class="small ghost copy-code">Copy code</button></div>`
				+ `<pre><code class="hljs${known ? ` language-${escapeHtml(language)}` : ''}">${body}</code></pre></div>`;
		}
	}
});

const PURIFY = {
	FORBID_TAGS: ['style', 'img', 'form', 'input', 'textarea', 'select', 'iframe', 'object', 'embed', 'svg', 'math'],
	FORBID_ATTR: ['style', 'srcset'],
	ALLOW_DATA_ATTR: false
};

let hooked = false;
function hook(): void {
	if (hooked) return;
	hooked = true;
	// Links from a model open elsewhere and tell the target nothing about Studio.
	DOMPurify.addHook('afterSanitizeAttributes', (node) => {
		if (node.tagName === 'A') {
			node.setAttribute('target', '_blank');
			node.setAttribute('rel', 'noopener noreferrer nofollow');
		}
	});
}

/** Markdown to sanitized HTML, safe to put in the DOM. */
export function renderMarkdown(source: string): string {
	hook();
	const html = marked.parse(source, { async: false });
	return DOMPurify.sanitize(html, PURIFY);
}
