// Names of the backend methods the renderer may call (dependency-free, so the sandboxed preload can
// import it). Each name `a.b` appears in the bridge as `reskv.a.b(...)`; over IPC its channel is
// `reskv:a.b`, over the headless HTTP bridge `POST /api/a.b` with the argument array as JSON body.
export const apiMethodNames = ['app.info', 'cost.catalog', 'cost.estimate', 'cost.saveHardware', 'cost.removeHardware'] as const;

export type ApiMethodName = (typeof apiMethodNames)[number];

export const ipcChannelFor = (method: ApiMethodName): string => `reskv:${method}`;
