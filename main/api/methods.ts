// Names of the backend methods the renderer may call (dependency-free, so the sandboxed preload can
// import it). Each name `a.b` appears in the bridge as `reskv.a.b(...)`; over IPC its channel is
// `reskv:a.b`, over the headless HTTP bridge `POST /api/a.b` with the argument array as JSON body.
export const apiMethodNames = [
  'app.info',
  'cost.catalog',
  'cost.estimate',
  'cost.saveHardware',
  'cost.removeHardware',
  'models.list',
  'models.import',
  'models.remove',
  'models.calibrate',
  'models.planCalibration',
  'models.removeCalibration',
  'chat.list',
  'chat.start',
  'chat.resume',
  'chat.send',
  'chat.regenerate',
  'chat.cancel',
  'chat.setDepth',
  'chat.fork',
  'chat.remove',
  'completions.models',
  'completions.create',
  'completions.cancel',
  'tradeoffs.run',
  'tradeoffs.list',
  'tasks.run',
  'tasks.list',
  'settings.get',
  'settings.save',
  'settings.providers',
  'jobs.list',
  'jobs.cancel',
  'jobs.dismiss',
] as const;

export type ApiMethodName = (typeof apiMethodNames)[number];

const apiMethodNameSet: ReadonlySet<string> = new Set(apiMethodNames);

export function isApiMethodName(name: string): name is ApiMethodName {
  return apiMethodNameSet.has(name);
}

export const ipcChannelFor = (method: ApiMethodName): string => `reskv:${method}`;

/** The IPC channel on which the main process pushes backend events to the renderer. */
export const backendEventChannel = 'reskv:event';

/** Electron-only: the native picker for a checkpoint file or folder (handled in the main process). */
export const pickCheckpointChannel = 'reskv:dialogs.pickCheckpoint';
/** Electron-only: the native picker for calibration text files. */
export const pickTextFilesChannel = 'reskv:dialogs.pickTextFiles';
/** Electron-only: renders the report HTML to PDF and saves it where the operator chooses. */
export const exportReportPdfChannel = 'reskv:dialogs.exportReportPdf';
/** Electron-only: the local API server's status (the main process runs it). */
export const localApiStatusChannel = 'reskv:localApi.status';
