// The worker bundles this file: every workflow type kdflow registers.
export { clusterWorkflow } from './cluster.ts';
export { catalogWorkflow } from './catalog.ts';
