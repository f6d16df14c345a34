// A wake-up that the audio thread may post: no lock, no allocation. The worker sleeps in wait()
// until something it renders from changes, so an idle instance costs no CPU.
//
// A counting semaphore's post is the one wake-up that real-time code may call: POSIX defines
// sem_post as async-signal-safe (it takes no lock); Apple has no unnamed POSIX semaphores and
// uses dispatch semaphores; Windows, ReleaseSemaphore. Posts coalesce while one is pending.
#pragma once

#include <atomic>
#include <cerrno>

#if defined(__APPLE__)
#include <dispatch/dispatch.h>
#elif defined(_WIN32)
#include <windows.h>
#else
#include <semaphore.h>
#endif

namespace latentplay {

class WakeSignal {
 public:
  WakeSignal() {
#if defined(__APPLE__)
    semaphore_ = dispatch_semaphore_create(0);
#elif defined(_WIN32)
    semaphore_ = CreateSemaphoreW(nullptr, 0, 1 << 30, nullptr);
#else
    sem_init(&semaphore_, 0, 0);
#endif
  }
  ~WakeSignal() {
#if defined(__APPLE__)
    dispatch_release(semaphore_);
#elif defined(_WIN32)
    CloseHandle(semaphore_);
#else
    sem_destroy(&semaphore_);
#endif
  }
  WakeSignal(const WakeSignal&) = delete;
  WakeSignal& operator=(const WakeSignal&) = delete;

  // Any thread, the audio thread included.
  void post() {
    if (pending_.exchange(true)) return;  // the waiter has not woken for the last one yet
#if defined(__APPLE__)
    dispatch_semaphore_signal(semaphore_);
#elif defined(_WIN32)
    ReleaseSemaphore(semaphore_, 1, nullptr);
#else
    sem_post(&semaphore_);
#endif
  }

  // The one waiting thread: returns after a post(). Whatever was changed before that post() is
  // visible once this returns.
  void wait() {
#if defined(__APPLE__)
    dispatch_semaphore_wait(semaphore_, DISPATCH_TIME_FOREVER);
#elif defined(_WIN32)
    WaitForSingleObject(semaphore_, INFINITE);
#else
    while (sem_wait(&semaphore_) != 0 && errno == EINTR) {
    }
#endif
    pending_.store(false);
  }

 private:
  std::atomic<bool> pending_{false};
#if defined(__APPLE__)
  dispatch_semaphore_t semaphore_;
#elif defined(_WIN32)
  HANDLE semaphore_;
#else
  sem_t semaphore_;
#endif
};

}  // namespace latentplay
