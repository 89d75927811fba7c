#pragma once
// The two concurrency pieces of the streaming jobs (the video job, and what else streams frames):
// a reader thread that stays a bounded number of items ahead of its consumer, and a worker thread
// that runs tasks in submission order with a bounded backlog.  Exceptions cross the threads: a
// reader's failure is rethrown by pop() once the items read before it are consumed, a task's by
// the next submit() or drain().
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

namespace fregan::infer {

// Calls `read` on its own thread, at most `capacity` items ahead of pop().  `read` fills its
// argument and returns false at the end of the input.  Items are copied out with `copy` (a decoder
// that reuses its buffer needs a deep copy: cv::Mat::clone).
template <typename T>
class ReadAhead {
 public:
  using Read = std::function<bool(T&)>;
  ReadAhead(
      Read read, size_t capacity, std::function<T(const T&)> copy = [](const T& item) { return item; })
      : read_(std::move(read)), copy_(std::move(copy)), capacity_(capacity), thread_([this] { run(); }) {}
  ~ReadAhead() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  // The next item, or nullopt at the end of the input.
  std::optional<T> pop() {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return !items_.empty() || done_; });
    if (items_.empty() && error_) std::rethrow_exception(error_);
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    cv_.notify_all();
    return item;
  }

 private:
  void run() {
    try {
      T item;
      while (true) {
        {
          std::unique_lock<std::mutex> lock(mutex_);
          cv_.wait(lock, [&] { return stop_ || items_.size() < capacity_; });
          if (stop_) break;
        }
        if (!read_(item)) break;
        std::lock_guard<std::mutex> lock(mutex_);
        items_.push_back(copy_(item));
        cv_.notify_all();
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      error_ = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
    cv_.notify_all();
  }

  Read read_;
  std::function<T(const T&)> copy_;
  size_t capacity_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<T> items_;
  std::exception_ptr error_;
  bool done_ = false, stop_ = false;
  std::thread thread_;  // last: starts after everything it uses
};

// Runs tasks in submission order on its own thread, at most `capacity` waiting: converting and
// encoding finished frames overlaps the work on the next ones instead of stalling it whenever the
// encoder's pipe is full.  After a task fails, the tasks waiting are dropped and its exception is
// rethrown by the next submit() or drain().
class SerialWorker {
 public:
  explicit SerialWorker(size_t capacity);
  ~SerialWorker();  // runs the tasks still waiting (unless one failed), then stops
  SerialWorker(const SerialWorker&) = delete;
  SerialWorker& operator=(const SerialWorker&) = delete;

  void submit(std::function<void()> task);
  // Waits until every submitted task has run.
  void drain();

 private:
  void rethrow_locked();
  void run();

  size_t capacity_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::exception_ptr error_;
  bool busy_ = false, stop_ = false;
  std::thread thread_;  // last: starts after everything it uses
};

}  // namespace fregan::infer
