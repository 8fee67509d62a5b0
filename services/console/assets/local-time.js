// Times arrive in UTC (readable without this script); shown here in the viewer's own zone.
for (const t of document.querySelectorAll('time[datetime]')) {
  const d = new Date(t.getAttribute('datetime'));
  if (!Number.isNaN(d.getTime())) {
    t.textContent = d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    t.title = `${t.getAttribute('datetime')} (UTC)`;
  }
}
