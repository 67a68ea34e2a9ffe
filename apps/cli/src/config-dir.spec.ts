import { configDir, configFile } from './config-dir';

describe('the CLI config directory', () => {
  const home = '/home/ada';
  it.each([
    ['linux', { HOME: home }, '/home/ada/.config/toolgate'],
    ['linux', { HOME: home, XDG_CONFIG_HOME: '/xdg' }, '/xdg/toolgate'],
    // A relative XDG_CONFIG_HOME is invalid by the spec and ignored.
    ['linux', { HOME: home, XDG_CONFIG_HOME: 'rel' }, '/home/ada/.config/toolgate'],
    ['darwin', { HOME: home, XDG_CONFIG_HOME: '/xdg' }, '/home/ada/Library/Application Support/toolgate'],
    ['win32', { APPDATA: 'C:\\Users\\ada\\AppData\\Roaming' }, 'C:\\Users\\ada\\AppData\\Roaming\\toolgate'],
    ['darwin', { HOME: home, TOOLGATE_CONFIG_DIR: '/etc/tg' }, '/etc/tg'],
  ] as const)('%s with %j is %s', (platform, env, dir) => {
    expect(configDir(env, platform)).toBe(dir);
  });

  it('names config.json in it', () => {
    expect(configFile({ HOME: home }, 'linux')).toBe('/home/ada/.config/toolgate/config.json');
  });
});
