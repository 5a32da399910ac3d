/**
 * Calls that arrive while one with the same key is in flight share its answer; a call that arrives
 * after it has answered (or failed) starts a new one, so nothing is kept past the answer.
 */
export function sharedWhileInFlight<K, V>(): (key: K, start: () => Promise<V>) => Promise<V> {
  const running = new Map<K, Promise<V>>();
  return (key, start) => {
    let answer = running.get(key);
    if (!answer) {
      answer = start().finally(() => running.delete(key));
      running.set(key, answer);
    }
    return answer;
  };
}
