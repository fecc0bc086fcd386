// Jest runs a global hook once per distinct file, so each project names its own.
import { globalSetup } from './global-setup';

export default () => globalSetup('pglite');
