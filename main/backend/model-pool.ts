// The backend's loaded models (backend worker): one EngineModel per library model and cache format,
// opened once and kept loaded, each with a work queue so requests on it run one after another, never
// concurrently on the same session.
import { parseCacheChoice } from '../engine/cache-runtime.js';
import { EngineModel, findLibraryModel } from '../engine/engine-model.js';
import type { CacheName, ChatModelInfo } from '../api/types.js';
import { libraryFor, loadSettings } from './settings.js';

/** A loaded model with its work queue; conversations hold on to it while they are open. */
export class PooledModel {
  /** Tail of the model's work queue. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly engine: Promise<EngineModel>) {}

  /** Runs `work` after everything queued on this model. */
  run<T>(work: (engine: EngineModel) => Promise<T> | T): Promise<T> {
    const run = this.queue.then(async () => work(await this.engine));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Releases the model once its queued work is done (a failed load has nothing to release). */
  release(): Promise<void> {
    return this.run(() => undefined).then(async () => (await this.engine.catch(() => null))?.release());
  }
}

export class ModelPool {
  /** By model folder and cache. */
  private readonly loaded = new Map<string, PooledModel>();
  /** Replaced by codebooksChanged while conversations still used them: released at close. */
  private readonly retired = new Set<PooledModel>();

  constructor(private readonly dataDir: string) {}

  private folderOf(model: string): string {
    return findLibraryModel(model, libraryFor(this.dataDir));
  }

  /** The model with the cache, loaded once (a failed load is retried next time). */
  open(model: string, cache: CacheName): PooledModel {
    const folder = this.folderOf(model);
    const key = `${folder}\n${cache}`;
    let pooled = this.loaded.get(key);
    if (!pooled) {
      const { providers, threads } = loadSettings(this.dataDir).settings;
      const engine = EngineModel.open({ model: folder, cache: parseCacheChoice(cache), session: { providers, threads } });
      const entry = new PooledModel(engine);
      engine.catch(() => {
        if (this.loaded.get(key) === entry) this.loaded.delete(key);
      });
      this.loaded.set(key, entry);
      pooled = entry;
    }
    return pooled;
  }

  /**
   * A model's codebook sets changed (one calibrated again or removed): later opens of its rvq caches
   * read the files afresh. A loaded rvq cache is released once its queued work is done, unless
   * `inUse` says open conversations hold it: they keep it until close.
   */
  codebooksChanged(model: string, inUse: (pooled: PooledModel) => boolean): void {
    const prefix = `${this.folderOf(model)}\nrvq`;
    for (const [key, pooled] of [...this.loaded]) {
      if (!key.startsWith(prefix)) continue;
      this.loaded.delete(key);
      if (inUse(pooled)) this.retired.add(pooled);
      else void pooled.release();
    }
  }

  /** What each loaded model reports (its provider and those passed over among it); failed loads are left out. */
  async infos(): Promise<ChatModelInfo[]> {
    const engines = await Promise.allSettled([...this.loaded.values(), ...this.retired].map((pooled) => pooled.engine));
    return engines.flatMap((e) => (e.status === 'fulfilled' ? [e.value.info] : []));
  }

  async close(): Promise<void> {
    for (const pooled of [...this.loaded.values(), ...this.retired]) await (await pooled.engine.catch(() => null))?.release();
    this.loaded.clear();
    this.retired.clear();
  }
}
