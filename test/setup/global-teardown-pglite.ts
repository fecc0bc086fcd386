// Jest runs a global hook once per distinct file, so each project names its own.
import { globalTeardown } from './global-teardown';

export default () => globalTeardown('pglite');
