/**
 * The shared app catalog of one namespace (docs/adr/0039): one long-lived workflow,
 * `kdcatalog:NAMESPACE`, started by the first put (update-with-start). Updates add and delete
 * versions; queries list them and answer one. The state is every app version's spec (URLs and
 * digests, never package bytes), bounded in bytes (CATALOG_MAX_BYTES), and carried across
 * continue-as-new; the history is the log of every apply.
 */
import * as wf from '@temporalio/workflow';
import {
  CatalogRefusal,
  appVersionQuery,
  catalogListQuery,
  deleteAppVersion,
  deleteAppVersionUpdate,
  emptyCatalog,
  findAppVersion,
  listCatalog,
  parseDeleteRequest,
  parsePutRequest,
  putAppUpdate,
  putAppVersion,
  type CatalogState,
} from '../api/contract.ts';

export interface CatalogOptions {
  /** Continue-as-new after this many history events even if the server does not suggest it yet. */
  maxHistoryEvents?: number;
}

const DEFAULT_MAX_HISTORY_EVENTS = 2000;

/** A refusal is the client's answer (a typed, non-retryable failure), never a failed workflow task. */
function refused<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof CatalogRefusal)
      throw wf.ApplicationFailure.create({ type: error.type, message: error.message, nonRetryable: true });
    throw error;
  }
}

export async function catalogWorkflow(carried?: CatalogState, options: CatalogOptions = {}): Promise<void> {
  let state: CatalogState = carried && Array.isArray(carried.apps) ? carried : emptyCatalog();
  // Validators refuse before anything is written: a refused apply leaves no event in the history.
  wf.setHandler(
    putAppUpdate,
    (raw) => {
      const next = refused(() => putAppVersion(state, parsePutRequest(raw), new Date().toISOString()));
      state = next.state;
      return next.result;
    },
    { validator: (raw) => void refused(() => putAppVersion(state, parsePutRequest(raw), new Date().toISOString())) },
  );
  wf.setHandler(
    deleteAppVersionUpdate,
    (raw) => {
      const next = refused(() => deleteAppVersion(state, parseDeleteRequest(raw)));
      state = next.state;
      return next.result;
    },
    { validator: (raw) => void refused(() => deleteAppVersion(state, parseDeleteRequest(raw))) },
  );
  wf.setHandler(catalogListQuery, () => listCatalog(state));
  wf.setHandler(appVersionQuery, (request) => findAppVersion(state, request ?? { name: '' }));

  const maxEvents = options.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS;
  await wf.condition(() => wf.workflowInfo().continueAsNewSuggested || wf.workflowInfo().historyLength > maxEvents);
  await wf.condition(wf.allHandlersFinished);
  await wf.continueAsNew<typeof catalogWorkflow>(state, options);
}
