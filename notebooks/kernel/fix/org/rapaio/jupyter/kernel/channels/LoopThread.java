package org.rapaio.jupyter.kernel.channels;

/**
 * Replaces rapaio-jupyter-kernel 3.0.1's LoopThread, same name and API, placed before the kernel jar
 * on its classpath by notebooks/run.sh.
 *
 * <p>Why: 3.0.1's {@code start()} calls {@code Thread.start()} and only then sets {@code running};
 * a channel thread that checks {@code running} before the starting thread sets it exits at once,
 * and the kernel never answers on that channel (nbconvert: "Kernel didn't respond in 60 seconds").
 * Here {@code running} is set before the thread starts.
 */
public final class LoopThread extends Thread {
    private volatile boolean running;
    private final long sleep;
    private final Runnable loopBody;

    public LoopThread(String name, long sleep, Runnable loopBody) {
        super(name);
        this.sleep = sleep;
        this.loopBody = loopBody;
    }

    @Override
    public void run() {
        while (running) {
            loopBody.run();
            try {
                Thread.sleep(sleep);
            } catch (InterruptedException e) {
                running = false;
                return;
            }
        }
    }

    @Override
    public synchronized void start() {
        running = true;
        super.start();
    }

    public void shutdown() {
        running = false;
    }
}
