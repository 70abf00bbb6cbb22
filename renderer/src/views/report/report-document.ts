// Turns the Report view's rendered content (tables and the charts' SVG) into one self-contained HTML
// document: inline styles, no scripts, no external resources, so it opens anywhere offline.
const reportStyle = `
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, Ubuntu, sans-serif; color: #1c2230; margin: 32px auto; max-width: 1100px; font-size: 14px; }
h1 { font-size: 26px; margin-bottom: 4px; } h2 { font-size: 19px; margin-top: 28px; border-bottom: 1px solid #d5d9e1; padding-bottom: 4px; }
table { border-collapse: collapse; font-size: 12.5px; margin: 8px 0; } th, td { padding: 4px 10px; border-bottom: 1px solid #e3e6ec; text-align: right; white-space: nowrap; }
th[scope='row'] { text-align: left; font-weight: 500; color: #5b6475; } dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; }
dt { color: #5b6475; } dd { margin: 0; } .notice { background: #fff6e0; border: 1px solid #e7c86e; border-radius: 6px; padding: 8px 12px; }
figure { margin: 12px 0; } .charts { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.headline-sentence { font-weight: 600; font-size: 15px; } .stats { display: grid; grid-template-columns: repeat(5, 1fr); gap: 8px; } .stat strong { display: block; font-size: 17px; }
.what-if { display: grid; grid-template-columns: 1fr 1fr 1.35fr; gap: 12px; align-items: start; } .what-if th, .what-if td { white-space: normal; }
code { display: block; white-space: pre-wrap; overflow-wrap: anywhere; background: #f1f3f6; padding: 4px 6px; font-size: 12px; } figcaption { font-weight: 600; font-size: 13px; } ul { color: #5b6475; font-size: 12.5px; } button, select, input, .report-controls { display: none; }
`;

export function reportDocument(title: string, bodyHtml: string): string {
  const escapedTitle = title.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    // The report carries no script and loads nothing: the CSP says so to whatever opens it.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    `<title>${escapedTitle}</title><style>${reportStyle}</style></head>`,
    `<body>${bodyHtml}</body></html>`,
  ].join('\n');
}

/** Saves the document through the browser (headless mode) as a file download. */
export function downloadHtml(fileName: string, html: string): void {
  const url = URL.createObjectURL(new Blob([html], { type: 'text/html' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
