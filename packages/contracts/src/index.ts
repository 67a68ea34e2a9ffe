export * from './names';
export * from './rules';
export * from './snapshot';
export * from './events';
export * from './slug';
export * from './crypto';
