import { register } from 'node:module';

register('./wit-mock.mjs', import.meta.url);
