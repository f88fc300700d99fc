# GUARD_CODE (engine/inject.ts): the code of a dump's guarded injection, written into the task's
# scratch area. Its bytes are in inject.ts; test/engine/inject.test.ts assembles this file
# (GNU as) and checks that they and the offsets below match it. x86_64, Intel syntax.
#
# cryo points a thread at `batch` (rbx: a table of calls, as BATCH_CODE) or at `clone`, with
# the thread's way back in `block` (guardBlock()). While cryo lives it stops the thread at the
# end of `done` (the tgkill's signal, or the syscall's exit) or of `clone`'s syscall, and puts it
# back itself; `restore` runs only when cryo is gone.
.intel_syntax noprefix
.text
batch:                              # offset 0: BATCH_CODE up to its int3
  mov rax, [rbx]
  cmp rax, -1
  je done
  mov rdi, [rbx+8]
  mov rsi, [rbx+16]
  mov rdx, [rbx+24]
  mov r10, [rbx+32]
  mov r8, [rbx+40]
  mov r9, [rbx+48]
  syscall
  mov [rbx+56], rax
  add rbx, 64
  cmp rax, -4095
  jae done
  jmp batch
done:                               # tgkill(tgid, tid, sig): cryo's stop, a signal the task ignores
  mov eax, 234
  mov edi, [rip + tgid]
  mov esi, [rip + tid]
  mov edx, [rip + sig]
  syscall
restore:                            # GUARD_STOP_END: the thread's way back, by itself
  mov eax, 14                       # rt_sigprocmask(SIG_SETMASK, &mask, NULL, 8)
  mov edi, 2
  lea rsi, [rip + mask]
  xor edx, edx
  mov r10d, 8
  syscall
  mov rsp, [rip + rsp_low]          # the thread's rsp - 136: the push stays below its red zone
  push qword ptr [rip + flags]
  popfq
  lea rsp, [rsp + 136]
  mov rax, [rip + r_ax]
  mov rbx, [rip + r_bx]
  mov rcx, [rip + r_cx]
  mov rdx, [rip + r_dx]
  mov rsi, [rip + r_si]
  mov rdi, [rip + r_di]
  mov rbp, [rip + r_bp]
  mov r8, [rip + r_8]
  mov r9, [rip + r_9]
  mov r10, [rip + r_10]
  mov r11, [rip + r_11]
  mov r12, [rip + r_12]
  mov r13, [rip + r_13]
  mov r14, [rip + r_14]
  mov r15, [rip + r_15]
  jmp qword ptr [rip + r_ip]
clone:                              # GUARD_CLONE: the parent goes its way back, a child exits
  syscall
  test rax, rax
  jnz restore
  mov eax, 60
  xor edi, edi
  syscall
code_end:
.org 384                            # GUARD_BLOCK_OFF
block:
mask: .quad 0
flags: .quad 0
rsp_low: .quad 0
r_ip: .quad 0
r_ax: .quad 0
r_bx: .quad 0
r_cx: .quad 0
r_dx: .quad 0
r_si: .quad 0
r_di: .quad 0
r_bp: .quad 0
r_8: .quad 0
r_9: .quad 0
r_10: .quad 0
r_11: .quad 0
r_12: .quad 0
r_13: .quad 0
r_14: .quad 0
r_15: .quad 0
tgid: .long 0
tid: .long 0
sig: .long 0
block_end:
