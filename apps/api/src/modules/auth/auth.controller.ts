import { Controller, Get, HttpCode, Patch, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { Authed, type AuthUser, CurrentUser } from '../../common/auth';
import { Throttle } from '../../common/throttle';
import { ZBody } from '../../common/zod';
import { ChangePasswordDto, LoginDto, RefreshDto, SignupDto, UpdateMeDto } from './auth.dto';
import { AuthService } from './auth.service';

@ApiTags('auth')
@Controller('v1')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Post('auth/signup')
  @Throttle('signup')
  signup(@ZBody(SignupDto) dto: SignupDto) {
    return this.auth.signup(dto);
  }

  @Post('auth/login')
  @Throttle('auth')
  @HttpCode(200)
  login(@ZBody(LoginDto) dto: LoginDto, @Req() req: Request) {
    return this.auth.login(dto, req.ip ?? 'unknown');
  }

  @Post('auth/refresh')
  @HttpCode(200)
  refresh(@ZBody(RefreshDto) dto: RefreshDto) {
    return this.auth.refresh(dto);
  }

  @Post('auth/logout')
  @HttpCode(204)
  async logout(@ZBody(RefreshDto) dto: RefreshDto): Promise<void> {
    await this.auth.logout(dto);
  }

  @Get('me')
  @Authed({ personalTokens: true })
  @ApiBearerAuth()
  me(@CurrentUser() user: AuthUser) {
    return this.auth.me(user.id, user.token?.orgId);
  }

  @Patch('me')
  @Authed()
  @ApiBearerAuth()
  updateMe(@CurrentUser() user: AuthUser, @ZBody(UpdateMeDto) dto: UpdateMeDto) {
    return this.auth.updateMe(user.id, dto);
  }

  @Post('me/password')
  @Authed()
  @Throttle('auth')
  @HttpCode(204)
  @ApiBearerAuth()
  async changePassword(@CurrentUser() user: AuthUser, @ZBody(ChangePasswordDto) dto: ChangePasswordDto): Promise<void> {
    await this.auth.changePassword(user.id, user.sessionFamily, dto);
  }

  @Post('auth/logout-all')
  @Authed()
  @HttpCode(204)
  @ApiBearerAuth()
  async logoutAll(@CurrentUser() user: AuthUser): Promise<void> {
    await this.auth.logoutAll(user.id);
  }
}
