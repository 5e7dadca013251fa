/**
 * The CRDs, generated from the zod schemas so that no shape is written twice. Kubernetes wants a
 * structural schema: no $ref, no `additionalProperties` beside `properties`, `nullable` instead of a
 * null branch, and `x-kubernetes-int-or-string` for quantities.
 */
import { z } from 'zod';
import { KdAppSpec } from './app.ts';
import { KdClusterSpec } from './cluster.ts';
import { API_GROUP } from './common.ts';
import { KdClusterCrStatus } from './cr-status.ts';
import { KdActionCrStatus, KdActionSpec } from './kdaction.ts';

type Schema = Record<string, unknown>;

export function structural(input: unknown): Schema {
  const schema = { ...(input as Schema) };
  delete schema.$schema;
  delete schema.id;
  const anyOf = schema.anyOf as Schema[] | undefined;
  if (anyOf) {
    delete schema.anyOf;
    const types = anyOf.map((s) => s.type);
    if (types.includes('null')) {
      const rest = anyOf.filter((s) => s.type !== 'null');
      return { ...(rest.length === 1 ? structural(rest[0]) : structural({ anyOf: rest })), nullable: true };
    }
    if (types.every((t) => t === 'string' || t === 'number' || t === 'integer'))
      return { 'x-kubernetes-int-or-string': true };
    return { ...schema, 'x-kubernetes-preserve-unknown-fields': true };
  }
  if (schema.properties) {
    // A loose object (additionalProperties: {}) keeps what it holds: pruned, a KubeDirector field
    // kdflow warns about or refuses would reach the shim empty and pass unnoticed.
    const loose = isEmptySchema(schema.additionalProperties);
    delete schema.additionalProperties;
    if (loose) schema['x-kubernetes-preserve-unknown-fields'] = true;
    schema.properties = Object.fromEntries(
      Object.entries(schema.properties as Schema).map(([k, v]) => [k, structural(v)]),
    );
  } else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
    schema.additionalProperties = structural(schema.additionalProperties);
  }
  if (schema.items) schema.items = structural(schema.items);
  return schema;
}

function isEmptySchema(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Object.keys(value).length === 0;
}

const jsonSchema = (s: z.ZodType, io: 'input' | 'output') =>
  structural(z.toJSONSchema(s, { io, unrepresentable: 'any', target: 'openapi-3.0' }));

function crd(kind: string, plural: string, shortName: string, spec: z.ZodType, extra: Schema = {}): Schema {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${API_GROUP}` },
    spec: {
      group: API_GROUP,
      scope: 'Namespaced',
      names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase(), shortNames: [shortName] },
      versions: [
        {
          name: 'v1beta1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              required: ['spec'],
              properties: {
                spec: { ...jsonSchema(spec, 'input'), ...(extra.spec as Schema) },
                ...(extra.status ? { status: extra.status } : {}),
              },
            },
          },
          ...(extra.version as Schema),
        },
      ],
    },
  };
}

export function kdflowCrds(): Schema[] {
  return [
    crd('KdApp', 'kdapps', 'kda', KdAppSpec, {
      version: {
        additionalPrinterColumns: [
          { name: 'Version', type: 'string', jsonPath: '.spec.version' },
          { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
        ],
      },
    }),
    crd('KdCluster', 'kdclusters', 'kdc', KdClusterSpec, {
      status: jsonSchema(KdClusterCrStatus, 'output'),
      version: {
        subresources: { status: {} },
        additionalPrinterColumns: [
          { name: 'App', type: 'string', jsonPath: '.spec.app' },
          { name: 'Version', type: 'string', jsonPath: '.status.appVersion' },
          { name: 'State', type: 'string', jsonPath: '.status.state' },
          { name: 'Members', type: 'string', jsonPath: '.status.membersReady' },
          { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
        ],
      },
    }),
    // One run of a custom action (docs/adr/0050): its spec is the request, so it cannot change once made.
    crd('KdAction', 'kdactions', 'kdact', KdActionSpec, {
      spec: {
        'x-kubernetes-validations': [
          { rule: 'self == oldSelf', message: 'a KdAction runs once: its spec cannot change (create another one)' },
        ],
      },
      status: jsonSchema(KdActionCrStatus, 'output'),
      version: {
        subresources: { status: {} },
        additionalPrinterColumns: [
          { name: 'Cluster', type: 'string', jsonPath: '.spec.cluster' },
          { name: 'Action', type: 'string', jsonPath: '.spec.action' },
          { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
          { name: 'Id', type: 'string', jsonPath: '.status.id' },
          { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
        ],
      },
    }),
  ];
}
