package org.rapaio.jupyter.kernel.channels;

import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Replaces rapaio-jupyter-kernel 3.0.1's LoopThread, same name and API, placed before the kernel jar
 * on its classpath by notebooks/run.sh. Two start-up races in 3.0.1 leave a channel dead, and the
 * kernel never answers (nbconvert: "Kernel didn't respond in 60 seconds"):
 * <ul>
 *   <li>{@code start()} calls {@code Thread.start()} and only then sets {@code running}, so a thread
 *       that checks it first exits at once. Here it is set before the thread starts.
 *   <li>{@code Channels.connect} starts the threads before it creates the message handlers; a
 *       request that arrives in between (the client's kernel_info, queued before the kernel bound its
 *       socket) throws NullPointerException in the loop body, which ended the thread. Here the loop
 *       logs the failure and goes on: the client repeats kernel_info until it gets an answer.
 * </ul>
 */
public final class LoopThread extends Thread {
    private static final Logger LOGGER = Logger.getLogger(LoopThread.class.getName());

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
            try {
                loopBody.run();
            } catch (RuntimeException e) {
                LOGGER.log(Level.WARNING, getName() + ": a message failed (" + e + "), the channel goes on", e);
            }
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
