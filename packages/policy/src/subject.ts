/** What tool and prompt rules match: `server__name` (resources are matched by their URI). */
export function ruleSubject(server: string, name: string): string {
  return `${server}__${name}`;
}
