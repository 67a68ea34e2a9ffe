export * from './names';
export * from './rules';
export * from './snapshot';
export * from './events';
export * from './live';
export * from './slug';
export * from './crypto';
export * from './gateway-status';
